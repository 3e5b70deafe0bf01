"""Renderers: Results in, Plotly figures, HTML and Markdown out. Results never hold charts.

- :mod:`.ui_figures`: Plotly figure specs (plain dicts) from Results (aggregates only),
  drawn by the web UI and the HTML report.
- :mod:`.figures`: the same figures as ``plotly.graph_objects.Figure``, for a notebook.
- :mod:`.html`: a report as one self-contained page (plotly.js inlined, nothing fetched).
- :mod:`.markdown`: a report as Markdown tables.
- :mod:`.tables`: every other result as a short table, the text its repr prints and the
  HTML a notebook displays.
"""
