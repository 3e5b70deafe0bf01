"""Renderers: Results in, Plotly figures, HTML and Markdown out. Results never hold charts.

- :mod:`.figures`: Plotly figures from Results (aggregates only).
- :mod:`.html`: a report as one self-contained page (plotly.js inlined, nothing fetched).
- :mod:`.markdown`: a report as Markdown tables.
"""
