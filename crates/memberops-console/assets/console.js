// MemberOps console: the segment condition builder with its live count. Plain JavaScript,
// no build step. The page holds the field list (#builder-data); the tree it edits is the
// API's segment tree: {"all"|"any": [{"field", "op", "value"}]}.
(function () {
  "use strict";
  var dataEl = document.getElementById("builder-data");
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var fields = data.fields;
  var texts = data.texts;
  var csrf = document.querySelector('meta[name="csrf"]').getAttribute("content");
  var list = document.getElementById("conditions");
  var countEl = document.getElementById("segment-count");
  var problemEl = document.getElementById("segment-problem");
  var matchEl = document.getElementById("match");
  var serial = 0;
  var timer = null;
  var asked = 0;

  function byName(name) {
    for (var i = 0; i < fields.length; i++) if (fields[i].name === name) return fields[i];
    return fields[0];
  }

  function labelled(text, control) {
    var wrap = document.createElement("div");
    var label = document.createElement("label");
    label.textContent = text;
    label.htmlFor = control.id;
    wrap.appendChild(label);
    wrap.appendChild(control);
    return wrap;
  }

  function options(select, items) {
    select.innerHTML = "";
    items.forEach(function (it) {
      var o = document.createElement("option");
      o.value = it.value;
      o.textContent = it.label;
      select.appendChild(o);
    });
  }

  function valueControl(row, field) {
    var id = row.dataset.id;
    var control;
    if (field.kind === "enum") {
      control = document.createElement("select");
      options(control, field.options);
    } else {
      control = document.createElement("input");
      control.type = field.kind === "str" ? "text" : "number";
      if (field.kind === "int" || field.kind === "days") control.step = "1";
      if (field.kind === "num") control.step = "any";
    }
    control.id = "value-" + id;
    control.className = "cond-value";
    control.addEventListener("input", changed);
    control.addEventListener("change", changed);
    return labelled(texts.value, control);
  }

  function addRow() {
    serial += 1;
    var row = document.createElement("div");
    row.className = "cond";
    row.dataset.id = String(serial);
    var fieldSel = document.createElement("select");
    fieldSel.id = "field-" + serial;
    fieldSel.className = "cond-field";
    options(fieldSel, fields.map(function (f) { return { value: f.name, label: f.label }; }));
    var opSel = document.createElement("select");
    opSel.id = "op-" + serial;
    opSel.className = "cond-op";
    var valueWrap = null;
    function setField() {
      var f = byName(fieldSel.value);
      options(opSel, f.ops);
      var fresh = valueControl(row, f);
      if (valueWrap) row.replaceChild(fresh, valueWrap); else row.insertBefore(fresh, remove);
      valueWrap = fresh;
      changed();
    }
    var remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = texts.remove;
    remove.className = "cond-remove";
    remove.addEventListener("click", function () { list.removeChild(row); changed(); });
    row.appendChild(labelled(texts.field, fieldSel));
    row.appendChild(labelled(texts.op, opSel));
    row.appendChild(remove);
    fieldSel.addEventListener("change", setField);
    opSel.addEventListener("change", changed);
    list.appendChild(row);
    setField();
    fieldSel.focus();
  }

  function tree() {
    var conds = [];
    list.querySelectorAll(".cond").forEach(function (row) {
      var f = byName(row.querySelector(".cond-field").value);
      var op = row.querySelector(".cond-op").value;
      var raw = row.querySelector(".cond-value").value;
      if (raw === "") return;
      var value = raw;
      if (f.kind === "int" || f.kind === "days") value = parseInt(raw, 10);
      if (f.kind === "num") value = parseFloat(raw);
      if (typeof value === "number" && isNaN(value)) return;
      conds.push({ field: f.name, op: op, value: value });
    });
    var t = {};
    t[matchEl.value] = conds;
    return t;
  }

  function count() {
    var mine = ++asked;
    fetch("/segments/count", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ condition: tree() })
    }).then(function (r) { return r.json(); }).then(function (b) {
      if (mine !== asked) return;
      if (b.count !== null && b.count !== undefined) {
        countEl.textContent = b.count.toLocaleString();
        problemEl.textContent = "";
      } else {
        problemEl.textContent = b.error || "";
      }
    }).catch(function () { /* the next change asks again */ });
  }

  function changed() {
    clearTimeout(timer);
    timer = setTimeout(count, 250);
  }

  document.getElementById("add-condition").addEventListener("click", addRow);
  matchEl.addEventListener("change", changed);
  document.getElementById("segment-form").addEventListener("submit", function () {
    document.getElementById("condition").value = JSON.stringify(tree());
  });
  count();
})();
