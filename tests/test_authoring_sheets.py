"""The ministry's questionnaire and framework pages with workbooks: the templates, importing a filled one on
the same import page as YAML, and every stored version as .xlsx next to its YAML."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlmodel import select

from portal.domain import questionnaires
from portal.models import AuditEntry, FrameworkVersion, QuestionnaireVersion
from tests.domain.test_authoring_sheets import DATA_SHEETS, SET_ROWS, SET_YAML, cells, filled
from tests.support.accounts import log_in
from tests.support.html import text_of

SETS = "/bo/phieu-khao-sat/"
FRAMEWORKS = "/bo/bo-tieu-chi/"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(client, url: str, data: bytes, name: str):
    return client.post(url + "nhap", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def documents(session, model) -> list[str]:
    session.expire_all()
    return [row.document for row in session.exec(select(model).order_by(model.version)).all()]


def test_the_ministry_fills_the_template_imports_it_and_gets_the_same_cells_back(client, ministry_user, session):
    log_in(client, ministry_user)
    page = client.get(SETS).get_data(as_text=True)
    assert "Tải mẫu bảng tính bộ phiếu (.xlsx)" in text_of(page)

    template = client.get(SETS + "mau-bang-tinh.xlsx")
    assert template.status_code == 200 and template.mimetype == XLSX
    assert load_workbook(io.BytesIO(template.data))["Phiếu"]["F1"].value == "Nhóm: HDND"
    workbook = filled(template.data, SET_ROWS, {"Bộ phiếu!B1": "Bộ phiếu thử"})

    imported = upload(client, SETS, workbook, "bo-phieu-2022.xlsx")

    assert imported.status_code == 303, text_of(imported.get_data(as_text=True))[:3000]
    expected = questionnaires.parse_questionnaire(SET_YAML, known_groups=("HDND", "LD_SO", "LD_PHONG", "LD_HUYEN"))
    assert documents(session, QuestionnaireVersion) == [questionnaires.to_document(expected)]
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "Nhập bộ phiếu khảo sát")).one().detail == (
        "Phiên bản 1: Bộ phiếu thử (tệp bo-phieu-2022.xlsx)")
    listing = text_of(client.get(SETS).get_data(as_text=True))
    assert "Tải bộ phiếu đang dùng (.xlsx)" in listing and ".xlsx phiên bản 1 · .yaml phiên bản 1" in listing
    exported = client.get(SETS + "phien-ban-1.xlsx")
    assert exported.mimetype == XLSX
    assert exported.headers["Content-Disposition"] == "attachment; filename=bo-phieu-phien-ban-1.xlsx"
    assert cells(exported.data, DATA_SHEETS) == cells(workbook, DATA_SHEETS)
    assert client.get(SETS + "phien-ban-9.xlsx").status_code == 404


def test_last_years_set_exported_and_imported_again_is_the_identical_document(client, ministry_user, session):
    log_in(client, ministry_user)
    client.post(SETS + "nap-mau")
    exported = client.get(SETS + "phien-ban-1.xlsx").data

    assert upload(client, SETS, exported, "nam-truoc.xlsx").status_code == 303

    first, second = documents(session, QuestionnaireVersion)
    assert second == first


def test_a_workbook_with_mistakes_lists_each_at_its_cell_and_stores_nothing(client, ministry_user, session):
    log_in(client, ministry_user)
    client.post(SETS + "nap-mau")
    broken = [list(row) for row in SET_ROWS["Câu hỏi"]]
    broken[0][3] = "Ngày"
    workbook = filled(client.get(SETS + "mau-bang-tinh.xlsx").data, {**SET_ROWS, "Câu hỏi": broken},
                      {"Bộ phiếu!B1": "Bộ phiếu thử"})

    refused = upload(client, SETS, workbook, "bo-phieu.xlsx")

    assert refused.status_code == 422
    page = text_of(refused.get_data(as_text=True))
    assert ("Phiếu “DP” › phần “A” › câu “q1” (trang tính “Câu hỏi”, dòng 2, cột D “Loại câu hỏi”): loại câu hỏi "
            "“Ngày” không được hỗ trợ") in page
    assert "Không có gì được lưu; bộ phiếu đang dùng được giữ nguyên." in page
    assert len(documents(session, QuestionnaireVersion)) == 1
    word = upload(client, SETS, b"PK\x03\x04" + bytes(200), "bo-phieu.docx")
    assert word.status_code == 422 and "bị hỏng" in text_of(word.get_data(as_text=True))


def test_the_framework_goes_out_as_a_workbook_and_comes_back_as_the_identical_document(client, ministry_user,
                                                                                        session):
    log_in(client, ministry_user)
    template = client.get(FRAMEWORKS + "mau-bang-tinh.xlsx")
    assert template.mimetype == XLSX and load_workbook(io.BytesIO(template.data)).sheetnames == [
        "Hướng dẫn", "Bộ tiêu chí", "Tiêu chí", "Mức điểm"]
    client.post(FRAMEWORKS + "nap-mau")
    assert "Tải bộ tiêu chí đang dùng (.xlsx)" in text_of(client.get(FRAMEWORKS).get_data(as_text=True))
    exported = client.get(FRAMEWORKS + "phien-ban-1.xlsx").data

    assert upload(client, FRAMEWORKS, exported, "bo-tieu-chi.xlsx").status_code == 303

    first, second = documents(session, FrameworkVersion)
    assert second == first
    book = load_workbook(io.BytesIO(exported))
    book["Tiêu chí"]["D2"] = 99
    buffer = io.BytesIO()
    book.save(buffer)
    refused = upload(client, FRAMEWORKS, buffer.getvalue(), "sai.xlsx")
    assert refused.status_code == 422
    assert "Lĩnh vực 1, khóa “points” (trang tính “Tiêu chí”, dòng 2, cột D “Điểm tối đa”): điểm tối đa ghi 99" in (
        text_of(refused.get_data(as_text=True)))
    assert len(documents(session, FrameworkVersion)) == 2
