/* A model's page: headline facts, charts (bars with CIs per task, radar), per-task metrics and breakdowns with
 * provenance, writing, knowledge injection, base → tuned comparisons and every run that fed the page. */
"use strict";

(() => {
  const { el, readData, safeUrl, describe, scoreCell, barChart, radar, lineChart, markReady, MISSING } = LB;
  const data = readData();
  const model = data.model;
  const PERCENT = { scale: 100, digits: 1, unit: "%" };
  const main = document.getElementById("main");

  function facts(pairs, className) {
    const list = el("dl", { class: className || "facts" });
    for (const [label, value] of pairs) {
      const missing = value === null || value === undefined || value === "";
      list.append(el("dt", { text: label }),
        el("dd", { class: missing ? "missing" : "", text: missing ? MISSING : String(value) }));
    }
    return list;
  }

  function table(headers, rows, className) {
    return el("div", { class: "table-wrap" }, el("table", { class: className || "detail" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells)))));
  }

  /* A section's provenance: its run's facts (kept once, in model.runs) and the section's own extra facts. */
  function provenance(p, extra) {
    const r = model.runs[p.run_index];
    return el("details", { class: "provenance" }, el("summary", { text: "Provenance" }), facts([
      ["run folder", r.run], ["status", r.status], ["started", r.started_at], ["finished", r.finished_at],
      ["suite version", r.suite_version], ["model revision", r.revision], ["adapter hash", r.adapter_hash],
      ["seed", r.seed], ["limit", r.limit === null ? "none (full data)" : r.limit], ["device", r.device],
      ["config hash", r.config_hash], ...(extra || []),
    ], "facts small"));
  }

  function header() {
    document.getElementById("model-name").textContent = model.name;
    const latest = model.runs.length ? `latest run ${model.runs[0].started_at} · ` : "";
    document.getElementById("meta").textContent = `${latest}instructeval ${data.version}`;
    const url = safeUrl(model.url);
    main.append(el("section", { class: "summary" },
      facts([
        ["spec", model.spec], ["backend", model.backend], ["model", model.model_name], ["family", model.family],
        ["size", model.size], ["revision", model.revision], ["adapter", model.adapter],
        ...[["base model", model.base], ["instruction data", model.instruction_data], ["method", model.method]]
          .filter(([, value]) => value !== null && value !== undefined),
      ]),
      url ? el("p", {}, el("a", { href: url, rel: "noopener noreferrer", text: "model card" })) : null,
      el("div", { class: "headline" }, el("span", { class: "label", text: "Problem-solving average" }),
        scoreCell("span", model.average.cell, PERCENT, { column: "average", className: "big" }),
        el("span", { class: "note", text: model.average.cell ? "" :
          ` missing: needs all of ${model.average.tasks.join(", ")}` }))));
  }

  function charts() {
    const proportions = model.tasks.filter((t) => t.unit === "%");
    if (!proportions.length) return;
    const items = proportions.map((t) => ({
      label: t.label,
      href: `#task-${encodeURIComponent(t.task)}`,
      value: t.cell ? t.cell[0] * 100 : null,
      low: t.cell && t.cell[1] !== null ? t.cell[1] * 100 : null,
      high: t.cell && t.cell[2] !== null ? t.cell[2] * 100 : null,
      text: describe(t.cell, t).text,
      title: describe(t.cell, t).title,
    }));
    const box = el("section", { class: "charts" }, el("h2", { text: "At a glance" }),
      el("div", { class: "chart-row" },
        el("figure", {}, barChart(items, { label: "Primary metric per task with 95% CIs", unit: "%", fixed: [0, 100] }),
          el("figcaption", { text: "Primary metric per task (%), whiskers: 95% CI." }))));
    const core = model.average.tasks.map((label) => {
      const task = model.tasks.find((t) => t.label === label);
      const value = task && task.cell && task.unit === "%" ? task.cell[0] * 100 : null;
      return { label, value, text: task ? describe(task.cell, task).text : MISSING };
    });
    if (core.filter((a) => a.value !== null).length >= 3) {
      box.lastChild.append(el("figure", { class: "radar-box" }, radar(core, "Problem-solving profile"),
        el("figcaption", { text: "Problem-solving profile (0–100%); missing tasks are named, not drawn as 0." })));
    }
    main.append(box);
  }

  /* The swing across a task's settings against its widest 95% CI, as `run --grid` prints it. */
  function swingCell(task) {
    if (!task.swing) {
      return el("td", { class: "missing", title: "needs two settings with values and CIs", text: MISSING });
    }
    const [swing, widest] = task.swing;
    const shown = (v) => (v * task.scale).toFixed(task.digits);
    const verdict = swing > widest ? "above" : "within";
    return el("td", { class: "num swing", "data-swing": swing, "data-widest": widest, "data-verdict": verdict,
      text: `${shown(swing)} vs ${shown(widest)}${task.unit === "%" ? " points" : ""} (${verdict} noise)` });
  }

  function settingsGrid() {
    if (!model.settings.length) return;
    const rows = model.settings.flatMap((task) => task.settings.map((s, i) => [
      el("td", { text: i === 0 ? task.label : "" }),
      el("td", { text: s.setting }),
      el("td", { text: s.metric }),
      scoreCell("td", s.cell, task, { column: s.id }),
      el("td", { class: "num", text: describe(s.cell, task).ci || MISSING }),
      el("td", { class: "num", text: s.cell && s.cell[3] !== null ? s.cell[3] : MISSING }),
      i === 0 ? swingCell(task) : el("td", {}),
    ]));
    main.append(el("section", { class: "settings" }, el("h2", { text: "Prompt settings" }),
      el("p", { class: "note", text: "Each task in every prompt setting it was run in; per task, the swing across "
        + "settings (best minus worst) against the widest 95% CI: a swing above it is more than sampling noise." }),
      table(["task", "setting", "metric", "value", "95% CI", "n", "swing vs widest CI"], rows)));
  }

  function metricsTable(task) {
    return table(["metric", "value", "95% CI", "n"], task.metrics.map((m) => {
      const shown = describe(m.cell, m);
      return [
        el("td", { text: m.metric + (m.metric === task.metric ? " (primary)" : "") }),
        scoreCell("td", m.cell, m, { column: m.metric }),
        el("td", { class: "num", text: shown.ci || MISSING }),
        el("td", { class: "num", text: m.cell && m.cell[3] !== null ? m.cell[3] : MISSING }),
      ];
    }));
  }

  function breakdown(task, part) {
    const rows = part.groups.map((g) => [
      el("td", { text: g.group }),
      scoreCell("td", g.cell, task, { column: `${part.kind}:${g.group}` }),
      el("td", { class: "num", text: g.cell && g.cell[3] !== null ? g.cell[3] : MISSING }),
    ]);
    return el("details", { class: "breakdown", open: part.groups.length <= 12 },
      el("summary", { text: `by ${part.kind} (${part.groups.length})` }),
      table([part.kind, task.metric, "n"], rows));
  }

  function contaminationLine(task) {
    const mark = task.contamination;
    const share = describe(mark.share, { scale: 100, digits: 1, unit: "%" }).text;
    const parts = [`${mark.contaminated} of ${mark.checkable} test examples (${share}) share a ${mark.ngram}-gram with ${mark.corpus}`];
    if (mark.clean) {
      parts.push(`clean subset ${describe(mark.clean, task).title}`);
      parts.push(`dirty − clean ${describe(mark.dirty_minus_clean, task, true).title}`);
    }
    return el("p", { class: "contamination-note", text: parts.join("; ") });
  }

  function tasks() {
    if (!model.tasks.length) return;
    const section = el("section", { class: "tasks" }, el("h2", { text: "Tasks" }));
    for (const task of model.tasks) {
      const p = task.provenance;
      section.append(el("article", { class: "task", id: `task-${encodeURIComponent(task.task)}`, "data-task": task.task },
        el("h3", {}, el("span", { text: task.label }), " ",
          scoreCell("span", task.cell, task, { column: task.task, title: task.metric, contamination: task.contamination })),
        task.contamination ? contaminationLine(task) : null,
        metricsTable(task),
        task.breakdowns.map((part) => breakdown(task, part)),
        provenance(p, [
          ["protocol", p.protocol], ["setting", p.setting], ["few-shot", p.num_fewshot], ["samples", p.n_samples],
          ["data source", p.data_source], ["data hash", p.data_hash], ["prompt hash", p.prompt_hash],
          ["chat template", p.chat_template ? `applied (${p.chat_template_hash || "hash unknown"})` : "not applied"],
        ])));
    }
    main.append(section);
  }

  function writing() {
    const w = model.writing;
    if (!w) return;
    const judge = { scale: 1, digits: 2, unit: "" };
    const rows = w.scores.flatMap((r) => r.groups.map((g) => [
      el("td", { text: r.rubric }), el("td", { text: g.group }),
      scoreCell("td", g.cell, judge, { column: `${r.rubric}:${g.group}` }),
      el("td", { class: "num", text: g.cell && g.cell[3] !== null ? g.cell[3] : MISSING }),
      el("td", { class: "num", text: g.missing === null ? MISSING : g.missing }),
    ]));
    main.append(el("section", { class: "writing" }, el("h2", { text: "Writing (LLM judge, 1–5)" }),
      facts([["judges", w.judges.join(", ")],
        ["rubrics", w.rubrics.map((r) => `${r.name} v${r.version} (${r.sha256.slice(0, 12)})`).join(", ")]]),
      w.warnings.map((text) => el("p", { class: "judge-warning", text: `⚠ ${text}` })),
      table(["rubric", "category", "score", "n", "no verdict"], rows),
      provenance(w.provenance)));
  }

  function knowledge() {
    if (!model.knowledge.length) return;
    const section = el("section", { class: "knowledge" }, el("h2", { text: "Knowledge injection" }));
    for (const k of model.knowledge) {
      section.append(el("article", {},
        el("h3", { text: `${k.set} · ${k.method}` }),
        k.tuned_model ? facts([["tuned model", k.tuned_model]]) : null,
        table(["split", "scorer", "accuracy", "n"], k.cells.map((c) => [
          el("td", { text: c.split }), el("td", { text: c.scorer }),
          scoreCell("td", c.cell, PERCENT, { column: `${c.split}:${c.scorer}` }),
          el("td", { class: "num", text: c.cell && c.cell[3] !== null ? c.cell[3] : MISSING }),
        ])),
        k.curve ? el("figure", { class: "curve-box" }, lineChart(k.curve, `learning curve: ${k.set} · ${k.method}`),
          el("figcaption", { text: `Accuracy per epoch (${k.curve.scorer}), one line per split, 95% CI bands.` })) : null,
        provenance(k.provenance)));
    }
    main.append(section);
  }

  function comparisons() {
    if (!model.comparisons.length) return;
    const section = el("section", { class: "comparisons" }, el("h2", { text: "Base → tuned" }));
    for (const c of model.comparisons) {
      section.append(el("article", {},
        el("h3", { text: `${c.base} → ${c.other}` }),
        el("p", {}, el("a", { href: `../${c.diff_page}`, class: "diff-link", text: `${c.flipped} flipped examples` })),
        facts([["file", c.file], ["created", c.created_at], ["alpha", c.alpha],
          ["forced", c.forced ? `yes: ${c.mismatches.join("; ")}` : "no"]]),
        table(["task", "test", "base", "tuned", "difference", "p (Holm)", "wins / losses / ties", "verdict"], c.tasks.map((t) => {
          const x = t.cell;
          return [
            el("td", { text: t.label }), el("td", { text: t.test }),
            scoreCell("td", x ? [x[6], null, null, null] : null, t, { column: "base" }),
            scoreCell("td", x ? [x[7], null, null, null] : null, t, { column: "other" }),
            scoreCell("td", x, t, { column: t.task, signed: true, star: x && x[5], className: x && x[5] ? "significant" : "" }),
            el("td", { class: "num", text: x && x[4] !== null ? x[4].toPrecision(3) : MISSING }),
            el("td", { class: "num", text: x ? `${x[8]} / ${x[9]} / ${x[10]}` : MISSING }),
            el("td", { text: t.verdict || MISSING }),
          ];
        }))));
    }
    main.append(section);
  }

  function runs() {
    main.append(el("section", { class: "runs" }, el("h2", { text: "Runs" }),
      table(["run folder", "status", "started", "suite version", "revision", "device"], model.runs.map((r) =>
        [r.run, r.status, r.started_at, r.suite_version, r.revision, r.device].map((v) =>
          el("td", { class: v === null ? "missing" : "", text: v === null ? MISSING : v }))))));
  }

  header();
  charts();
  settingsGrid();
  tasks();
  writing();
  knowledge();
  comparisons();
  runs();
  markReady();
})();
