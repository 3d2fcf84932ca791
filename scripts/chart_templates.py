"""Write the report's chart templates, league_pipeline/outputs/report/chart_templates.json, from
the Altair charts of league_pipeline/outputs/report/chart_definitions.py.

Usage: ``python scripts/chart_templates.py``, after changing a chart or moving Altair, then
commit the file. tests/unit/test_chart_templates.py fails while the file and the charts differ.
"""

from __future__ import annotations

from league_pipeline.outputs.report.chart_definitions import write_templates

if __name__ == "__main__":
    print(f"wrote {write_templates()}")
