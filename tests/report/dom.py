"""Read the comparison matrix back out of a DOM dumped by headless Chromium."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class DomCell:
    classes: str
    text: str = ""  # the verdict as shown (symbol and word)
    check_id: str = ""  # the platform's own check id, small under the verdict


@dataclass
class DomRow:
    kind: str  # "chk" or "area"
    id: str
    area: str
    hidden: bool
    header: str = ""
    cells: list[DomCell] = field(default_factory=list)

    @property
    def verdicts(self) -> list[str]:
        return [c.classes.removeprefix("v-") for c in self.cells]

    @property
    def check_ids(self) -> list[str]:
        return [c.check_id for c in self.cells]


class MatrixReader(HTMLParser):
    """Collects #matrix rows: aspect, visibility (row or its tbody hidden), cell class, text and
    check id."""

    def __init__(self) -> None:
        super().__init__()
        self.in_matrix = False
        self.area = ""
        self.tbody_hidden = False
        self.rows: list[DomRow] = []
        self.headers: list[str] = []
        self._cell: DomCell | None = None
        self._in_th = False
        self._in_head = False
        self._depth_details = 0
        self._summary = False
        self._small = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "matrix":
            self.in_matrix = True
        if not self.in_matrix:
            return
        if tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self.area = a.get("data-area") or ""
            self.tbody_hidden = "hidden" in a
        elif tag == "tr" and not self._in_head:
            kind = "area" if a.get("class") == "area" else "chk"
            self.rows.append(
                DomRow(kind, a.get("data-id") or "", self.area, self.tbody_hidden or "hidden" in a)
            )
        elif tag == "th":
            self._in_th = True
            if self._in_head:
                self.headers.append("")
        elif tag == "td" and self.rows:
            self._cell = DomCell(a.get("class") or "")
            self.rows[-1].cells.append(self._cell)
        elif tag == "details":
            self._depth_details += 1
        elif tag == "summary":
            self._summary = True
        elif tag == "small":
            self._small = True

    def handle_endtag(self, tag: str) -> None:
        if not self.in_matrix:
            return
        if tag == "table":
            self.in_matrix = False
        elif tag == "thead":
            self._in_head = False
        elif tag == "th":
            self._in_th = False
        elif tag == "td":
            self._cell = None
        elif tag == "details":
            self._depth_details -= 1
        elif tag == "summary":
            self._summary = False
        elif tag == "small":
            self._small = False

    def handle_data(self, data: str) -> None:
        if not self.in_matrix:
            return
        if self._in_head and self._in_th:
            self.headers[-1] += data
        elif self._in_th and self.rows:
            self.rows[-1].header += data
        elif self._cell is not None and (self._depth_details == 0 or self._summary):
            if self._small:
                self._cell.check_id += data
            else:
                self._cell.text += data


def read_matrix(dom: str) -> MatrixReader:
    reader = MatrixReader()
    reader.feed(dom)
    return reader
