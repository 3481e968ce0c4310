/* The leaderboard's index: one tab per view, a sortable and filterable table, column picker, chart, downloads. */
"use strict";

(() => {
  const { el, readData, scoreCell, barChart, lineChart, sizeChart, describe, markReady } = LB;
  const data = readData();
  const models = data.models;
  const SIZES = [
    { id: "lt1", label: "under 1B", test: (p) => p !== null && p < 1e9 },
    { id: "1to10", label: "1B to 10B", test: (p) => p !== null && p >= 1e9 && p < 1e10 },
    { id: "10to100", label: "10B to 100B", test: (p) => p !== null && p >= 1e10 && p < 1e11 },
    { id: "ge100", label: "100B and more", test: (p) => p !== null && p >= 1e11 },
    { id: "unknown", label: "unknown size", test: (p) => p === null },
  ];
  const PAGE_ROWS = 100; // rows drawn at once: a long board opens fast and pages (or shows all on request)
  const CATEGORIES = [
    { id: "family", label: "family", plural: "families" },
    { id: "base", label: "base model", plural: "base models" },
    { id: "instruction_data", label: "instruction data", plural: "instruction data" },
    { id: "method", label: "method", plural: "methods" },
  ].filter((c) => c.id === "family" || models.some((m) => m[c.id] !== null && m[c.id] !== undefined));
  const filters = { name: "", size: "", group: "" };
  for (const c of CATEGORIES) filters[c.id] = "";
  const states = {};
  let current = null;
  let sizeOpen = false;

  function stateOf(view) {
    if (!states[view.id]) {
      const chart = view.columns.findIndex((c) => c.id === view.chart);
      states[view.id] = {
        sort: chart >= 0 ? { key: `s${chart}`, dir: -1 } : { key: "t0", dir: 1 },
        hidden: new Set(view.columns.filter((c) => c.hidden).map((c) => c.id)),
        chart: Math.max(chart, 0),
        page: 0,
        all: false,
      };
    }
    return states[view.id];
  }

  /** A row's model's family, base, instruction data or method; null when unknown. */
  function categoryOf(row, id) {
    const value = row.model === null || row.model === undefined ? null : models[row.model][id];
    return value === undefined ? null : value;
  }

  function visibleRows(view) {
    const needle = filters.name.trim().toLowerCase();
    const modelText = view.text_columns.map((c, i) => (c.kind === "model" ? i : -1)).filter((i) => i >= 0);
    const size = SIZES.find((s) => s.id === filters.size);
    return view.rows.filter((row) => {
      if (needle && !modelText.some((i) => (row.text[i] || "").toLowerCase().includes(needle))) return false;
      for (const c of CATEGORIES) {
        const wanted = filters[c.id];
        if (wanted === "?" && categoryOf(row, c.id) !== null) return false;
        if (wanted.startsWith("f:") && categoryOf(row, c.id) !== wanted.slice(2)) return false;
      }
      return !size || size.test(row.params);
    });
  }

  function sortKey(view, row, key) {
    const index = Number(key.slice(1));
    if (key[0] === "s") {
      const cell = row.cells[index];
      return cell && cell[0] !== null ? cell[0] : null;
    }
    if (view.text_columns[index].kind === "size") return row.params;
    return row.text[index] === null ? null : String(row.text[index]).toLowerCase();
  }

  /** Rows in the chosen order; grouped, each group's rows together (groups by name, unknown last). */
  function sorted(view, rows) {
    const { key, dir } = stateOf(view).sort;
    const name = (row) => String(row.text[0] || "").toLowerCase();
    const group = (row) => (filters.group ? categoryOf(row, filters.group) : null);
    return rows
      .map((row) => ({ row, value: sortKey(view, row, key), group: group(row) }))
      .sort((a, b) => {
        if (a.group !== b.group) {
          if (a.group === null) return 1;
          if (b.group === null) return -1;
          return a.group < b.group ? -1 : 1;
        }
        if (a.value === null && b.value === null) return name(a.row) < name(b.row) ? -1 : 1;
        if (a.value === null) return 1; // missing sorts last both ways
        if (b.value === null) return -1;
        if (a.value < b.value) return -dir;
        if (a.value > b.value) return dir;
        return name(a.row) < name(b.row) ? -1 : name(a.row) > name(b.row) ? 1 : 0;
      })
      .map((entry) => entry.row);
  }

  function header(view, label, key, title, numeric, columnId) {
    const state = stateOf(view);
    const active = state.sort.key === key;
    const arrow = active ? (state.sort.dir > 0 ? " ▲" : " ▼") : "";
    const button = el("button", {
      type: "button", class: "sort", "data-key": key, "data-col": columnId, title: `${title || label}: click to sort`,
      onclick: () => {
        state.sort = active ? { key, dir: -state.sort.dir } : { key, dir: numeric ? -1 : 1 };
        state.page = 0;
        drawTable(view);
      },
    }, label, arrow);
    return el("th", {
      scope: "col", class: numeric ? "num" : "",
      "aria-sort": active ? (state.sort.dir > 0 ? "ascending" : "descending") : "none",
    }, button);
  }

  function textCell(view, row, i) {
    const column = view.text_columns[i];
    const value = row.text[i];
    if (value === null || value === undefined || value === "") {
      return el("td", { class: "missing", title: `${column.label} unknown`, text: column.kind === "text" ? "" : "—" });
    }
    const target = row.links[i];
    if (column.kind === "diff" && row.diff) {
      return el("td", {}, el("a", { href: row.diff, class: "diff-link", text: value }));
    }
    if (column.kind === "model" && target !== null && target !== undefined) {
      return el("td", { class: "name" }, el("a", { href: models[target].page, text: value }));
    }
    return el("td", { class: column.kind === "model" ? "name" : "", text: value });
  }

  /* Filters changed: back to the first page of the current view, redrawn. */
  function refilter() {
    stateOf(current).page = 0;
    drawTable(current);
  }

  function pager(view, total) {
    const state = stateOf(view);
    const pages = Math.ceil(total / PAGE_ROWS);
    if (pages <= 1) return [];
    const go = (page, all) => () => { state.page = page; state.all = all; drawTable(view); };
    return [
      el("button", { type: "button", id: "page-prev", disabled: state.all || state.page === 0,
        onclick: go(state.page - 1, false), text: "◀ previous" }),
      el("button", { type: "button", id: "page-next", disabled: state.all || state.page >= pages - 1,
        onclick: go(state.page + 1, false), text: "next ▶" }),
      el("button", { type: "button", id: "page-all", onclick: go(0, !state.all),
        text: state.all ? `pages of ${PAGE_ROWS}` : `show all ${total}` }),
    ];
  }

  function drawTable(view) {
    const state = stateOf(view);
    const rows = sorted(view, visibleRows(view));
    state.page = Math.max(0, Math.min(state.page, Math.ceil(rows.length / PAGE_ROWS) - 1));
    const first = state.all ? 0 : state.page * PAGE_ROWS;
    const drawn = state.all ? rows : rows.slice(first, first + PAGE_ROWS);
    const shown = view.columns.map((c, j) => ({ c, j })).filter(({ c }) => !state.hidden.has(c.id));
    const head = el("tr", {},
      view.text_columns.map((c, i) => header(view, c.label, `t${i}`, c.label, c.kind === "size")),
      shown.map(({ c, j }) => header(view, c.label, `s${j}`, c.title, true, c.id)));
    const body = el("tbody", {});
    const counts = groupCounts(rows);
    let group;
    for (const [k, row] of drawn.entries()) {
      const value = filters.group ? categoryOf(row, filters.group) : undefined;
      if (filters.group && (k === 0 || value !== group)) {
        group = value;
        body.append(groupHeader(value, counts.get(value), view.text_columns.length + shown.length));
      }
      const line = el("tr", {}, view.text_columns.map((_, i) => textCell(view, row, i)));
      for (const { c, j } of shown) {
        const cell = row.cells[j];
        line.append(scoreCell("td", cell, c, {
          column: c.id, title: c.label, signed: view.delta, star: view.delta && cell && cell[5],
          contamination: row.contamination && row.contamination[j],
          className: view.delta && cell ? (cell[5] ? "significant" : "") : "",
        }));
      }
      body.append(line);
    }
    document.getElementById("board").replaceChildren(el("thead", {}, head), body);
    const range = drawn.length < rows.length ? ` (rows ${first + 1} to ${first + drawn.length} drawn)` : "";
    document.getElementById("count").textContent =
      `${rows.length} of ${view.rows.length} rows shown${range}` + (rows.length ? "" : ": nothing matches the filters");
    document.getElementById("pager").replaceChildren(...pager(view, rows.length));
    drawChart(view, rows);
    if (view.by_size && document.getElementById("size-box").open) drawSizeChart(view, rows);
  }

  /* Drawn while open only: a long board pays for its points when someone looks. */
  function sizeBox(view) {
    return el("details", { class: "chart-box", id: "size-box", open: sizeOpen,
      ontoggle: (e) => {
        sizeOpen = e.target.open;
        if (sizeOpen) drawSizeChart(view, sorted(view, visibleRows(view)));
      } },
    el("summary", { text: "Against model size: the chart's column, one line per family" }), el("div", { id: "size-chart" }));
  }

  /* The chart column against model size, a line per family; rows without a size or family are left out (and
   * named), never placed at 0. */
  function drawSizeChart(view, rows) {
    const chart = chartInput(view, rows, "size-chart");
    if (!chart) return;
    const { holder, state, column, present } = chart;
    const unsized = present.filter((r) => r.params === null || r.params === undefined);
    const unfamilied = present.filter((r) => r.params !== null && r.params !== undefined && categoryOf(r, "family") === null);
    const families = new Map();
    for (const row of present) {
      const family = categoryOf(row, "family");
      if (row.params === null || row.params === undefined || family === null) continue;
      const cell = row.cells[state.chart];
      const shown = describe(cell, column);
      if (!families.has(family)) families.set(family, []);
      families.get(family).push({
        label: row.text[0], href: models[row.model].page, params: row.params, value: cell[0] * column.scale,
        low: cell[1] === null ? null : cell[1] * column.scale, high: cell[2] === null ? null : cell[2] * column.scale,
        title: shown.title,
      });
    }
    const series = [...families.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([family, points]) => ({ family, points }));
    const named = (list) => list.map((r) => r.text[0]).join(", ");
    const left = [];
    if (unsized.length) left.push(`${unsized.length} of unknown size (${named(unsized)})`);
    if (unfamilied.length) left.push(`${unfamilied.length} of unknown family (${named(unfamilied)})`);
    holder.replaceChildren(
      series.length
        ? sizeChart(series, { label: `${column.title} against model size, per family, with 95% CIs`,
          unit: column.unit, fixed: column.unit === "%" ? [0, 100] : null })
        : el("p", { class: "empty", text: "No row shown has a value in this column and a known size and family." }),
      el("p", { class: "note", id: "size-left-out", text: `${column.label} against parameters, one line per family.`
        + (left.length ? ` Left out, not placed at 0: ${left.join("; ")}.` : "") }),
    );
  }

  function groupCounts(rows) {
    const counts = new Map();
    for (const row of rows) {
      const value = categoryOf(row, filters.group);
      counts.set(value, (counts.get(value) || 0) + 1);
    }
    return counts;
  }

  function groupHeader(value, count, span) {
    const category = CATEGORIES.find((c) => c.id === filters.group);
    const label = value === null ? `${category.label} unknown` : `${category.label}: ${value}`;
    return el("tr", { class: "group-head", "data-group": value === null ? "" : value },
      el("th", { scope: "rowgroup", colspan: span, text: `${label} (${count} row${count === 1 ? "" : "s"})` }));
  }

  /* What a chart of the view's chart column draws from: its holder emptied and null when there is no column,
   * else the holder, the view's state, the column and the rows with a value in it. */
  function chartInput(view, rows, holderId) {
    const holder = document.getElementById(holderId);
    const state = stateOf(view);
    const column = view.columns[state.chart];
    if (!column) {
      holder.replaceChildren();
      return null;
    }
    const present = rows.filter((r) => r.cells[state.chart] && r.cells[state.chart][0] !== null);
    return { holder, state, column, present };
  }

  function drawChart(view, rows) {
    const chart = chartInput(view, rows, "chart");
    if (!chart) return;
    const { holder, state, column, present } = chart;
    const top = present
      .sort((a, b) => b.cells[state.chart][0] - a.cells[state.chart][0])
      .slice(0, 30);
    const items = top.map((row) => {
      const cell = row.cells[state.chart];
      const label = view.delta ? `${row.text[0]} → ${row.text[1]}` : row.text[0];
      const target = view.delta ? row.links[1] : row.links[0];
      return {
        label,
        href: target !== null && target !== undefined ? models[target].page : null,
        value: cell[0] * column.scale,
        low: cell[1] === null ? null : cell[1] * column.scale,
        high: cell[2] === null ? null : cell[2] * column.scale,
        mark: view.delta && cell[5],
        text: describe(cell, column, view.delta).text,
        title: describe(cell, column, view.delta).title,
      };
    });
    const missing = rows.length - present.length;
    const fixed = column.unit === "%" && !view.delta ? [0, 100] : null;
    holder.replaceChildren(
      items.length
        ? barChart(items, { label: `${column.title} with 95% CIs`, unit: column.unit, fixed })
        : el("p", { class: "empty", text: "No values in this column for the rows shown." }),
      el("p", { class: "note", text: `Top ${items.length} by ${column.label}` +
        (missing ? `; ${missing} row(s) without a value are left out, not drawn as 0.` : ".") }),
    );
  }

  /** A filter on the family, base model, instruction data or method: one value, or unknown. */
  function categoryFilter(category) {
    const values = [...new Set(models.map((m) => m[category.id]).filter((v) => v !== null && v !== undefined))].sort();
    const select = el("select", { id: `filter-${category.id}`, "aria-label": category.label,
      onchange: (e) => { filters[category.id] = e.target.value; refilter(); } },
    el("option", { value: "", text: `all ${category.plural}` }),
    values.map((v) => el("option", { value: `f:${v}`, text: v })),
    el("option", { value: "?", text: `unknown ${category.label}` }));
    select.value = filters[category.id];
    return select;
  }

  function groupPicker() {
    const select = el("select", { id: "group-by", "aria-label": "group rows by",
      onchange: (e) => { filters.group = e.target.value; refilter(); } },
    el("option", { value: "", text: "no grouping" }),
    CATEGORIES.map((c) => el("option", { value: c.id, text: `group by ${c.label}` })));
    select.value = filters.group;
    return select;
  }

  function sizeFilter() {
    const select = el("select", { id: "filter-size", "aria-label": "size",
      onchange: (e) => { filters.size = e.target.value; refilter(); } },
    el("option", { value: "", text: "all sizes" }),
    SIZES.map((s) => el("option", { value: s.id, text: s.label })));
    select.value = filters.size;
    return select;
  }

  function columnPicker(view) {
    const state = stateOf(view);
    return el("details", { class: "columns" }, el("summary", { text: "Columns" }),
      view.columns.map((c) => {
        const box = el("input", { type: "checkbox", "data-col": c.id, checked: !state.hidden.has(c.id),
          onchange: (e) => {
            if (e.target.checked) state.hidden.delete(c.id); else state.hidden.add(c.id);
            drawTable(view);
          } });
        return el("label", { title: c.title }, box, " ", c.label);
      }));
  }

  function chartPicker(view) {
    const state = stateOf(view);
    const select = el("select", { id: "chart-column", "aria-label": "chart column",
      onchange: (e) => { state.chart = Number(e.target.value); drawTable(view); } },
    view.columns.map((c, j) => el("option", { value: j, text: c.title })));
    select.value = String(state.chart);
    return select;
  }

  /* The settings view: one task's settings side by side (its columns shown, the others hidden), and the setting
   * the models are sorted and charted by. */
  function settingPickers(view) {
    const state = stateOf(view);
    const chosen = view.columns[state.chart];
    const pick = (j) => {
      const task = view.columns[j].task;
      state.hidden = new Set(view.columns.filter((c) => c.task !== task).map((c) => c.id));
      state.chart = j;
      state.sort = { key: `s${j}`, dir: -1 };
      state.page = 0;
      drawView(view);
    };
    const tasks = [...new Map(view.columns.map((c) => [c.task, c.task_label])).entries()];
    const task = el("select", { id: "pick-task", "aria-label": "task",
      onchange: (e) => pick(view.columns.findIndex((c) => c.task === e.target.value)) },
    tasks.map(([id, label]) => el("option", { value: id, text: label })));
    task.value = chosen.task;
    const setting = el("select", { id: "pick-setting", "aria-label": "setting",
      onchange: (e) => pick(Number(e.target.value)) },
    view.columns.map((c, j) => ({ c, j })).filter(({ c }) => c.task === chosen.task)
      .map(({ c, j }) => el("option", { value: j, text: c.label })));
    setting.value = String(state.chart);
    return el("span", { class: "pickers" }, el("label", {}, "Task ", task), el("label", {}, "setting ", setting));
  }

  function drawView(view) {
    current = view;
    for (const tab of document.querySelectorAll("#tabs a")) {
      tab.setAttribute("aria-selected", tab.dataset.view === view.id ? "true" : "false");
    }
    const name = el("input", { id: "filter-name", type: "search", placeholder: "filter by name",
      "aria-label": "filter by name", value: filters.name,
      oninput: (e) => { filters.name = e.target.value; refilter(); } });
    const main = document.getElementById("main");
    if (!view.rows.length) {
      main.replaceChildren(el("h2", { text: view.label }), el("p", { class: "note", text: view.note }),
        el("p", { class: "empty", text: "None of the runs given has results of this kind." }));
      return;
    }
    main.replaceChildren(
      el("h2", { text: view.label }),
      el("p", { class: "note", text: view.note }),
      ...view.id === "settings" ? [el("div", { class: "controls" }, settingPickers(view))] : [],
      el("div", { class: "controls" }, name, CATEGORIES.map(categoryFilter), sizeFilter(), groupPicker(),
        columnPicker(view),
        el("span", { class: "downloads" }, "Download: ",
          el("a", { href: `data/${view.id}.csv`, download: `${view.id}.csv`, text: "CSV" }), " · ",
          el("a", { href: "data/leaderboard.json", download: "leaderboard.json", text: "JSON" }))),
      el("p", { id: "count", class: "count", "aria-live": "polite" }),
      el("div", { class: "table-wrap" }, el("table", { id: "board", class: "board", "data-view": view.id })),
      el("div", { id: "pager", class: "pager" }),
      el("section", { class: "chart-box" }, el("h3", {}, "Chart: ", chartPicker(view)), el("div", { id: "chart" })),
      ...view.by_size ? [sizeBox(view)] : [],
      ...(view.curves || []).length ? [curvesBox(view.curves)] : [],
    );
    drawTable(view);
  }

  /** The knowledge view's learning curves (--curve), each linked to its model's page. */
  function curvesBox(curves) {
    return el("section", { class: "chart-box curves" },
      el("h3", { text: "Learning curves (--curve): accuracy per epoch, one line per split, 95% CI bands" }),
      el("div", { class: "chart-row" }, curves.map((c) => el("figure", {},
        lineChart(c.curve, `learning curve: ${c.label}`),
        el("figcaption", {}, el("a", { href: models[c.model].page, text: c.label }))))));
  }

  function chosenView() {
    const wanted = decodeURIComponent(location.hash.slice(1));
    return data.views.find((v) => v.id === wanted) || data.views.find((v) => v.rows.length) || data.views[0];
  }

  document.getElementById("meta").textContent =
    `${models.length} models from ${data.runs} runs · built ${data.generated_at} · instructeval ${data.version}`;
  document.getElementById("tabs").replaceChildren(...data.views.map((v) =>
    el("a", { href: `#${v.id}`, "data-view": v.id, role: "tab", class: v.rows.length ? "" : "empty" },
      v.label, el("span", { class: "badge", text: v.rows.length }))));
  window.addEventListener("hashchange", () => drawView(chosenView()));
  drawView(chosenView());
  markReady();
})();
