// Names each table cell after its column (data-label), so that on a phone, where tables turn
// into cards (dashboard.css), every value keeps its name. Tables drawn later by dashboard.js
// are labelled there.
"use strict";
function labelCells(table) {
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.cells].forEach((td, i) => { if (heads[i]) td.dataset.label = heads[i]; });
  }
}
document.querySelectorAll("main table").forEach(labelCells);
