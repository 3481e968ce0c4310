/* A comparison's diff page: the verdict per task, then every flipped example (the base run right and the
 * tuned one wrong, and the reverse) with its prompt, target, both answers, log-likelihoods and judge reasons,
 * filtered by task, subtask and direction. Text reaches the page through textContent only. */
"use strict";

(() => {
  const { el, readData, markReady, MISSING } = LB;
  const data = readData();
  const c = data.comparison;
  const main = document.getElementById("main");
  const DIRECTIONS = { improved: "tuned better", regressed: "tuned worse" };
  const filters = { task: "", subtask: "", direction: "" };

  function modelLink(name, page) {
    return page ? el("a", { href: `../${page}`, text: name }) : el("span", { text: name });
  }

  function header() {
    document.getElementById("diff-title").textContent = `${c.base} → ${c.other}`;
    document.title = `${c.base} → ${c.other} · ${data.title}`;
    document.getElementById("meta").append(
      "base ", modelLink(c.base, c.base_page), " · tuned ", modelLink(c.other, c.other_page),
      ` · ${c.created_at} · alpha ${c.alpha}` + (c.margin === null ? "" : ` · equivalence margin ±${c.margin}`),
      ` · ${c.file}`);
  }

  function fixed(value, digits) {
    return value === null || value === undefined ? MISSING : Number(value).toFixed(digits);
  }

  function verdicts() {
    const rows = c.rows.map((r) => el("tr", { "data-verdict": r.verdict || "" },
      el("td", { text: r.label }), el("td", { text: r.metric }),
      el("td", { class: "num", text: r.cell ? fixed(r.cell[6], 3) : MISSING }),
      el("td", { class: "num", text: r.cell ? fixed(r.cell[7], 3) : MISSING }),
      el("td", { class: "num", text: r.cell ? `${r.cell[0] > 0 ? "+" : ""}${fixed(r.cell[0], 3)} [${fixed(r.cell[1], 3)}, ${fixed(r.cell[2], 3)}]` : MISSING }),
      el("td", { class: `verdict ${r.verdict || ""}`, text: r.verdict || MISSING }),
      el("td", { class: "num", text: fixed(r.mde, 3) }),
      el("td", { class: "num", text: String(r.flipped) })));
    main.append(el("section", { class: "verdicts" }, el("h2", { text: "Verdicts" }),
      el("div", { class: "table-wrap" }, el("table", { class: "detail" },
        el("thead", {}, el("tr", {}, ["task", "metric", "base", "tuned", "difference [95% CI]", "verdict",
          "MDE (80% power)", "flipped"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows)))));
  }

  function select(id, label, options, key) {
    const node = el("select", { id, onchange: () => { filters[key] = node.value; draw(); } },
      el("option", { value: "", text: `every ${label}` }),
      options.map(([value, text]) => el("option", { value, text })));
    return el("label", {}, `${label} `, node);
  }

  function controls() {
    const unique = (key) => [...new Set(c.flips.map((f) => f[key]))].sort();
    main.append(el("section", { class: "controls", id: "filters" },
      select("filter-task", "task", unique("task").map((t) => [t, t]), "task"),
      select("filter-subtask", "subtask", unique("subtask").map((s) => [s, s]), "subtask"),
      select("filter-direction", "direction", Object.entries(DIRECTIONS), "direction"),
      el("span", { class: "count", id: "flip-count" })));
  }

  function answer(title, output, score, reasons) {
    return el("div", { class: "answer" },
      el("h4", { text: `${title} · score ${fixed(score, 3)}` }),
      el("pre", { class: "output", text: output === null || output === undefined ? MISSING : output }),
      reasons.length ? el("ul", { class: "reasons" }, reasons.map((r) => el("li", { text: r }))) : null);
  }

  function likelihoods(flip) {
    if (!flip.choices || !flip.base_loglikelihoods || !flip.other_loglikelihoods) return null;
    return el("table", { class: "detail likelihoods" },
      el("thead", {}, el("tr", {}, ["option", "base log-likelihood", "tuned log-likelihood"].map((h) =>
        el("th", { scope: "col", text: h })))),
      el("tbody", {}, flip.choices.map((choice, i) => el("tr", {},
        el("td", { text: choice }),
        el("td", { class: "num", text: fixed(flip.base_loglikelihoods[i], 3) }),
        el("td", { class: "num", text: fixed(flip.other_loglikelihoods[i], 3) })))));
  }

  function flipCard(flip) {
    return el("article", { class: `flip ${flip.direction}`, "data-direction": flip.direction,
      "data-subtask": flip.subtask, "data-task": flip.task },
      el("h3", { text: `${flip.task} · ${flip.subtask} · example ${flip.doc_id}` },
        el("span", { class: `badge ${flip.direction}`, text: DIRECTIONS[flip.direction] })),
      el("p", { class: "target" }, el("strong", { text: "target: " }), el("span", { text: flip.target })),
      el("details", { class: "prompt" }, el("summary", { text: "prompt" }), el("pre", { text: flip.prompt })),
      el("div", { class: "answers" },
        answer("base", flip.base_output, flip.base_score, flip.base_reasons),
        answer("tuned", flip.other_output, flip.other_score, flip.other_reasons)),
      likelihoods(flip));
  }

  const list = el("section", { id: "flips" });

  function draw() {
    const shown = c.flips.filter((f) => (!filters.task || f.task === filters.task)
      && (!filters.subtask || f.subtask === filters.subtask)
      && (!filters.direction || f.direction === filters.direction));
    list.replaceChildren(...shown.map(flipCard));
    if (!c.flips.length) list.append(el("p", { class: "empty", text: "The two runs scored every example alike." }));
    document.getElementById("flip-count").textContent = `${shown.length} of ${c.flips.length} flipped examples`;
  }

  header();
  verdicts();
  main.append(el("h2", { text: "Flipped examples" }));
  controls();
  main.append(list);
  draw();
  markReady();
})();
