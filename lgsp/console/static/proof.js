// Verifies an lgsp audit receipt in the browser, with nothing from the server but the receipt itself:
// leaf = SHA-256(0x00 || JCS(entry)) (RFC 8785), the RFC 9162 inclusion proof folded to the root, and the
// head's Ed25519 signature over JCS({"context":"lgsp-audit-sth-v1", root_hash, timestamp, tree_size}).
(function () {
  "use strict";
  const enc = new TextEncoder();

  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value !== null && typeof value === "object") {
      if (Object.keys(value).length === 0) return "{}";
      return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
    }
    if (typeof value === "number" && !Number.isSafeInteger(value)) throw new Error("v1 entries hold integers only");
    return JSON.stringify(value);
  }

  function hex(bytes) { return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join(""); }
  function unhex(text) {
    if (!/^([0-9a-f]{2})*$/.test(text)) throw new Error("not hex: " + text.slice(0, 16));
    return new Uint8Array(text.match(/../g) ? text.match(/../g).map((h) => parseInt(h, 16)) : []);
  }
  function unb64(text) { return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)); }
  async function sha256(...parts) {
    const size = parts.reduce((n, p) => n + p.length, 0);
    const all = new Uint8Array(size);
    let at = 0;
    for (const p of parts) { all.set(p, at); at += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  }
  const NODE = new Uint8Array([1]);

  async function rootFromInclusion(index, size, leaf, proof) {
    if (index >= size) throw new Error("index outside the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Error("proof is too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(NODE, p, r);
        if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = await sha256(NODE, r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("proof is too short");
    return r;
  }

  async function verify(receipt, step) {
    const item = receipt.entries[0];
    const entry = item.entry;
    const leaf = await sha256(new Uint8Array([0]), enc.encode(canonical(entry)));
    step("leaf hash " + hex(leaf));
    const head = receipt.heads.find((h) => h.tree_size === item.inclusion.tree_size);
    if (!head) throw new Error("no head of size " + item.inclusion.tree_size + " in the receipt");
    const root = await rootFromInclusion(entry.index, head.tree_size, leaf, item.inclusion.proof.map(unhex));
    if (hex(root) !== head.root_hash) throw new Error("the proof leads to " + hex(root) + ", not the head's root");
    step("inclusion proof: entry " + entry.index + " is in the tree of size " + head.tree_size);
    const key = (receipt.keys || []).find((k) => k.key_id === head.key_id);
    if (!key) throw new Error("the receipt names no key " + head.key_id);
    const spki = unb64(key.public_key);
    if (hex(await sha256(spki)) !== head.key_id) throw new Error("key id does not match the key material");
    const publicKey = await crypto.subtle.importKey("spki", spki, { name: "Ed25519" }, false, ["verify"]);
    const signed = enc.encode(canonical({ context: "lgsp-audit-sth-v1", root_hash: head.root_hash,
                                          timestamp: head.timestamp, tree_size: head.tree_size }));
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, unb64(head.signature), signed);
    if (!ok) throw new Error("the head's signature does not verify");
    step("head signature: Ed25519, key " + head.key_id.slice(0, 16) + "…, " + head.timestamp);
  }

  const button = document.getElementById("verify-proof");
  if (!button) return;
  button.addEventListener("click", async () => {
    const steps = document.getElementById("proof-steps");
    const result = document.getElementById("proof-result");
    steps.textContent = "";
    const step = (text) => { const li = document.createElement("li"); li.textContent = text; steps.appendChild(li); };
    try {
      await verify(JSON.parse(document.getElementById("receipt-data").textContent), step);
      result.dataset.verdict = "verified";
      result.className = "ok";
      result.textContent = "VERIFIED in this browser";
    } catch (err) {
      result.dataset.verdict = "failed";
      result.className = "bad";
      result.textContent = "FAILED: " + err.message;
    }
  });
  window.lgspVerifyReceipt = verify;  // for tests of tampered receipts
})();
