"""The configurable local→DVCQG status mapping: lookups, sub-statuses, and loud failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.dvcqg import StatusMapping, StatusMappingError, TrangThaiHoSo, UnknownLocalStatusError

from .conftest import EXAMPLE_MAPPING


def test_example_file_maps_local_statuses(mapping: StatusMapping) -> None:
    assert mapping.to_dvcqg("processing") is TrangThaiHoSo.DANG_XU_LY
    assert mapping.to_dvcqg("released") is TrangThaiHoSo.DA_TRA_KET_QUA


def test_sub_status_overrides_and_falls_back_to_the_bare_status(mapping: StatusMapping) -> None:
    assert mapping.to_dvcqg("processing", "waiting_fee") is TrangThaiHoSo.YEU_CAU_NGHIA_VU_TAI_CHINH
    assert mapping.to_dvcqg("processing", "other_sub") is TrangThaiHoSo.DANG_XU_LY


def test_unknown_local_status_is_an_error_never_a_default(mapping: StatusMapping) -> None:
    with pytest.raises(UnknownLocalStatusError) as caught:
        mapping.to_dvcqg("archived")
    assert "'archived'" in str(caught.value) and "processing" in str(caught.value)
    assert caught.value.retryable is False


def test_dict_forms_and_round_trip() -> None:
    bare = StatusMapping.from_dict({"A": 1, "B": "9"})
    assert bare.to_dvcqg("B") is TrangThaiHoSo.DA_XU_LY_XONG
    assert StatusMapping.from_dict(bare.to_dict()) == bare


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"statuses": {"x": 11}}, "'x'"),
        ({"statuses": {"x": 0}}, "'x'"),
        ({"statuses": {"x": "abc"}}, "'x'"),
        ({"statuses": {"x": True}}, "'x'"),
        ({"statuses": {"x": None}}, "'x'"),
        ({"statuses": {}}, "empty"),
        ({"statuses": {"": 1}}, "non-empty"),
    ],
)
def test_malformed_mapping_is_refused_at_load_time(data: dict[str, object], needle: str) -> None:
    with pytest.raises(StatusMappingError) as caught:
        StatusMapping.from_dict(data)
    assert needle in str(caught.value)


def test_bad_yaml_and_missing_file_name_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "mapping.yaml"
    broken.write_text("statuses: [1, 2", encoding="utf-8")
    with pytest.raises(StatusMappingError, match=r"mapping\.yaml.*not valid YAML"):
        StatusMapping.from_file(broken)
    with pytest.raises(StatusMappingError, match="cannot read"):
        StatusMapping.from_file(tmp_path / "absent.yaml")
    assert EXAMPLE_MAPPING.exists()
