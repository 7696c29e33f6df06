"""The ranking of a campaign's provinces: the change from the previous campaign, the .xlsx export and the
server-rendered SVG bar chart (no script: it prints and reads the same everywhere).

The previous campaign is the one this campaign was copied from, else the previous year's (never a template);
a province's change is shown only where that campaign published its results and ranked the province (a province
merged in 2025 has no 2021 rank of its own). The change is in places: +3 means three places higher.
"""

from __future__ import annotations

from markupsafe import escape
from sqlmodel import Session, col, select

from portal.domain.framework import Framework, format_points
from portal.domain.par_index import BASIS_LABELS, ProvinceFigures
from portal.domain.results_publication import published_computation
from portal.domain.spreadsheet_exports import export_rows
from portal.models import Campaign, ProvinceIndex


def previous_campaign(session: Session, campaign: Campaign) -> Campaign | None:
    """The campaign to compare with: the one copied from, else the previous year's; never a template."""
    if campaign.copied_from_id is not None:
        source = session.get(Campaign, campaign.copied_from_id)
        if source is not None and not source.is_template:
            return source
    return session.exec(select(Campaign).where(Campaign.year == campaign.year - 1,
                                               Campaign.is_template == False)  # noqa: E712
                        .order_by(col(Campaign.id).desc())).first()


def rank_changes(session: Session, campaign: Campaign) -> dict[int, int]:
    """Province id -> places gained since the previous campaign's published ranking (only provinces it ranked)."""
    previous = previous_campaign(session, campaign)
    published = published_computation(session, previous) if previous is not None else None
    if published is None:
        return {}
    return {row.province_id: row.rank for row in session.exec(
        select(ProvinceIndex).where(ProvinceIndex.computation_id == published.id))}


def change_of(previous_ranks: dict[int, int], row: ProvinceFigures) -> int | None:
    before = previous_ranks.get(row.province_id)
    return None if before is None else before - row.rank


def change_label(change: int | None) -> str:
    if change is None:
        return "–"
    return "không đổi" if change == 0 else (f"tăng {change} bậc" if change > 0 else f"giảm {-change} bậc")


HEADERS_BEFORE_AREAS = ["Hạng", "Tỉnh, thành phố", "Chỉ số (%)", "Tổng điểm", "Điểm tối đa",
                        "Điểm thẩm định", "Điểm điều tra XHH"]


def ranking_xlsx(campaign: Campaign, content: Framework | None, rows: list[ProvinceFigures],
                 previous_ranks: dict[int, int]) -> bytes:
    """The ranking as a spreadsheet: Vietnamese headers, figures as numbers, one column pair per area."""
    headers = [*HEADERS_BEFORE_AREAS]
    areas = content.areas if content is not None else []
    for area in areas:
        headers += [f"Lĩnh vực {area.code}: điểm", f"Lĩnh vực {area.code}: hạng"]
    headers += ["Thay đổi so với đợt trước (bậc)", "Cơ sở điểm tự đánh giá", "Hủy kết quả khảo sát: lý do"]
    lines = []
    for row in rows:
        values: list[object] = [row.rank, row.name, row.percent, row.total, row.maximum, row.appraised, row.survey]
        for area in areas:
            figure = row.areas.get(area.code)
            values += [figure.total if figure else None, figure.rank if figure else None]
        values += [change_of(previous_ranks, row), BASIS_LABELS[row.basis], row.voided_reason]
        lines.append(values)
    return export_rows(headers, lines, sheet_title="Xếp hạng Chỉ số CCHC",
                       title=f"Xếp hạng Chỉ số CCHC: {campaign.name}")


BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH, TOP = 14, 4, 190, 460, 28


def ranking_svg(rows: list[ProvinceFigures], title: str) -> str:
    """A horizontal bar per province, sorted by rank, labelled with rank, name and index (%): black on white so
    it prints, readable at 63 rows, names escaped (they come from the database)."""
    top = max([100.0, *(row.percent for row in rows)])
    height = TOP + len(rows) * (BAR_HEIGHT + GAP) + 8
    width = LABEL_WIDTH + BAR_WIDTH + 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ranking-chart" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>']
    for index, row in enumerate(rows):
        y = TOP + index * (BAR_HEIGHT + GAP)
        bar = round(BAR_WIDTH * max(row.percent, 0.0) / top, 1)
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 11}" text-anchor="end">{row.rank}. '
                     f'{escape(row.name)}</text>')
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{bar}" height="{BAR_HEIGHT}" fill="#4a4a4a"/>')
        parts.append(f'<text x="{LABEL_WIDTH + bar + 4}" y="{y + 11}">{format_points(row.percent)}%</text>')
    parts.append("</svg>")
    return "\n".join(parts)
