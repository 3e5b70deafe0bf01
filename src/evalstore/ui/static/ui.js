// evalstore web UI: draws the Plotly figures embedded in the page, makes charts clickable,
// loads the models page's health summaries, and submits the controls when a choice changes.
// Plain JavaScript, no dependency but plotly.js (served by this server).
"use strict";

function drawFigures(root) {
  root.querySelectorAll(".plot[data-figure]").forEach(function (el) {
    const source = document.getElementById(el.dataset.figure);
    if (!source || el.dataset.drawn) return;
    const spec = JSON.parse(source.textContent);
    const still = el.dataset.static === "1";
    const config = still
      ? { staticPlot: true, displayModeBar: false }
      : { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
    window.Plotly.newPlot(el, spec.data, spec.layout, config);
    el.dataset.drawn = "1";
    const target = el.dataset.click;
    if (target) {
      el.classList.add("clickable");
      el.on("plotly_click", function (event) {
        const point = event.points && event.points[0];
        const data = point && point.customdata;
        if (!data || !data[0]) return;
        if (target.indexOf("__SLICE__") >= 0) {
          if (!data[1]) return; // an empty cell of the heatmap
          window.location.href = target.replace("__SLICE__", encodeURIComponent(data[0] + ":" + data[1]));
        } else if (target.indexOf("__COLUMN__") >= 0) {
          window.location.href = target.replace("__COLUMN__", encodeURIComponent(data[0]));
        }
      });
    }
  });
}

// A summary from before the latest data (it holds the stale notice) is being computed again:
// fetched again every few seconds until it is current (at most for two minutes).
const HEALTH_RETRY_MS = 4000;
const HEALTH_RETRIES = 30;

function loadHealthCell(cell, retries) {
  fetch(cell.dataset.health, { headers: { Accept: "text/html" } })
    .then(function (response) {
      return response.text().then(function (text) {
        cell.innerHTML = text;
        cell.dataset.loaded = response.ok ? "ok" : "error";
        const stale = cell.querySelector("#stale-banner") !== null;
        cell.dataset.stale = stale ? "1" : "";
        if (stale && retries > 0) {
          window.setTimeout(function () { loadHealthCell(cell, retries - 1); }, HEALTH_RETRY_MS);
        }
      });
    })
    .catch(function (error) {
      cell.textContent = "could not load: " + error;
      cell.dataset.loaded = "error";
    });
}

function loadHealth() {
  document.querySelectorAll("[data-health]").forEach(function (cell) {
    loadHealthCell(cell, HEALTH_RETRIES);
  });
}

// The controls send only what was given in the URL or changed here: a default (the range,
// the metric) stays a default, so that switching environment picks that environment's range.
function sparseSubmit(form) {
  form.querySelectorAll("[name]").forEach(function (field) {
    const unchanged = field.value === field.dataset.initial && !field.dataset.given;
    if (unchanged || field.value === "") field.disabled = true;
  });
  form.submit();
}

function autoSubmit() {
  const form = document.getElementById("controls");
  if (!form) return;
  form.querySelectorAll("[name]").forEach(function (field) {
    field.dataset.initial = field.value;
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sparseSubmit(form);
  });
  form.querySelectorAll("select").forEach(function (select) {
    select.addEventListener("change", function () { sparseSubmit(form); });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  drawFigures(document);
  loadHealth();
  autoSubmit();
  // a page older than the data is being computed again: look again in a few seconds
  if (document.getElementById("stale-banner")) {
    window.setTimeout(function () { window.location.reload(); }, 4000);
  }
  document.body.dataset.ready = "1";
});

// Back to a page from the history: its controls are as they were drawn, none left disabled.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("#controls [name]").forEach(function (field) {
    field.disabled = false;
  });
});
