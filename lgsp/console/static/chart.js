// Calls and errors per minute over the recent exchanges (data from the page, drawn with uPlot).
(function () {
  "use strict";
  const box = document.getElementById("chart");
  if (!box || typeof uPlot === "undefined") return;
  const data = JSON.parse(box.dataset.series);
  if (!data.t.length) return;
  const opts = {
    width: Math.min(box.clientWidth || 800, 1100), height: 220,
    series: [{}, { label: "calls/min", stroke: "#1f6feb", width: 2 }, { label: "errors/min", stroke: "#d1242f", width: 2 }],
    axes: [{}, {}],
  };
  new uPlot(opts, [data.t, data.calls, data.errors], box);
  box.dataset.drawn = "yes";
})();
