"""The data grids every Vigil page shows (bed view, history, audit, users): AG Grid in Vigil's dark theme."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag

from monitor.web.auth import refuse_request

# AG Grid's theming API (the legacy `ag-theme-*-dark` classes need CSS from a CDN, which a ward PC may not reach).
# Only the four base themes are in scope for dash-ag-grid's function strings, so the dark scheme is set by colours.
DARK_GRID = {"function": "themeAlpine.withParams({backgroundColor: '#111111', foregroundColor: '#e0e0e0', "
                         "browserColorScheme: 'dark', accentColor: '#64b5f6'})"}


def dark_grid(grid_id: str, columns: list[dict], rows: list[dict], **options: object) -> dag.AgGrid:
    """A sortable, filterable grid in Vigil's dark theme; `options` add to or replace the grid options."""
    return dag.AgGrid(
        # A row id must be a string (AG Grid warns of any other, warning #25). The expression is read by
        # dash-ag-grid's own evaluator, which knows no global such as String().
        id=grid_id, columnDefs=columns, rowData=rows, getRowId="params.data.id + ''",
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={"animateRows": False, "domLayout": "autoHeight", "theme": DARK_GRID, **options},
        style={"width": "100%"},
    )


def paged_grid(grid_id: str, columns: list[dict], rows: list[dict]) -> dag.AgGrid:
    """A dark grid of 20 rows a page, as the bed view's tabs show them."""
    return dark_grid(grid_id, columns, rows, pagination=True, paginationPageSize=20)


def selected_field(selected: list[dict], field: str, kind: type) -> Any:
    """`field` of a single-selection grid's selected row, as the grid sends it; a row without it (a forged
    request) is answered 400."""
    value = selected[0].get(field) if selected else None
    if type(value) is not kind:
        refuse_request(f"the selected row has no {kind.__name__} {field}")
    return value
