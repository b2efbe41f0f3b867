/*
 * The segment builder: a filter (SEGMENTS.md) drawn as nested condition rows, kept in step with
 * its JSON textarea both ways - the builder rewrites the JSON; editing the JSON redraws the
 * builder. No dependencies.
 *
 * Markup:
 *   <div data-segment-builder data-json-for="TEXTAREA_ID"
 *        data-catalog="JSON_SCRIPT_ID"  (or data-catalog-url="/console/segments/catalog/")
 *        data-contact-list-link="LINK_ID"   optional: a link kept at /console/contacts/?filter=…
 *        data-error-for="STATUS_ID"         optional: where the live count puts its errors
 *        data-json-compact>                 optional: one-line JSON (for a GET form's URL)
 *   </div>
 * Each change fires a bubbling "filterchange" event on the textarea (the live count listens to it
 * with htmx). When an error in the status names a place (data-place="all[1].op"), the control at
 * that place is marked aria-invalid and tied to the message with aria-describedby.
 *
 * Loaded as a static file with the page's CSP nonce: no inline script or handler, no eval, no
 * innerHTML. The words come translated in the catalog; this file has none of its own.
 */
(function () {
  "use strict";

  var GROUPS = ["all", "any"];
  var KINDS = ["field", "tag", "event", "record", "segment"];
  var DAY_OPS = ["within_last_days", "more_than_days_ago", "within_next_days"];
  var LIST_OPS = ["in", "not_in", "has_any", "has_all", "has_none"];
  var EVENT_MAIN = [
    ["url_contains", "text"],
    ["within_days", "int"],
    ["min_count", "int"],
    ["max_count", "int"],
  ];
  var EVENT_MORE = [
    ["url_equals", "text"],
    ["since", "date"],
    ["until", "date"],
    ["campaign", "text"],
    ["form", "text"],
    ["ip", "text"],
    ["visitor", "text"],
    ["distinct", "text"],
  ];
  var RECORD_KEYS = [
    ["within_days", "int"],
    ["since", "date"],
    ["until", "date"],
    ["min_count", "int"],
    ["max_count", "int"],
  ];

  // --- small helpers ---------------------------------------------------------------------------

  function at(place, key) {
    return place ? place + "." + key : key;
  }

  function idFor(slot, role) {
    var base = (slot || "root").replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    return "sb-" + base + "-" + role;
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function groupKind(node) {
    if (!isObject(node) || Object.keys(node).length !== 1) return null;
    for (var i = 0; i < GROUPS.length; i++) {
      if (Array.isArray(node[GROUPS[i]])) return GROUPS[i];
    }
    return null;
  }

  function kindOf(node) {
    if (!isObject(node)) return "raw";
    if (groupKind(node)) return "group";
    if ("not" in node) return Object.keys(node).length === 1 ? "not" : "raw";
    for (var i = 0; i < KINDS.length; i++) {
      if (KINDS[i] in node) return KINDS[i];
    }
    return "raw";
  }

  function format(text, values) {
    return String(text).replace(/%\((\w+)\)s/g, function (match, key) {
      return key in values ? String(values[key]) : match;
    });
  }

  function make(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.append(child);
    });
    return node;
  }

  function toInt(text) {
    return /^\d+$/.test(text) ? parseInt(text, 10) : text;
  }

  function toNumber(text) {
    if (text === "") return "";
    var number = Number(text);
    return isFinite(number) ? number : text;
  }

  function shown(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function parentPlace(place) {
    var parent = place.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
    return parent === place ? "" : parent;
  }

  function valueShape(field, op, noValue) {
    if (noValue.indexOf(op) >= 0) return "none";
    var family = field ? field.family : "text";
    if (family === "boolean") return "bool";
    if (op === "between") return "pair";
    if (DAY_OPS.indexOf(op) >= 0) return "days";
    if (LIST_OPS.indexOf(op) >= 0) return "list";
    return "scalar";
  }

  // --- the builder -----------------------------------------------------------------------------

  function Builder(root, textarea, catalog) {
    var self = this;
    this.root = root;
    this.textarea = textarea;
    this.catalog = catalog;
    this.t = catalog.text;
    this.openDetails = {};
    this.top = this.context(catalog.fields, KINDS, catalog.lists || {});
    this.records = {};
    (catalog.records || []).forEach(function (record) {
      self.records[record.key] = record;
    });
    this.message = make("p", { className: "sb-message", "aria-live": "polite" });
    this.tree = make("div", { className: "sb-tree" });
    this.lists = make("div", { hidden: true });
    root.replaceChildren(this.tree, this.message, this.lists);
    this.addList("tags", catalog.tags || []);
    Object.keys(catalog.lists || {}).forEach(function (name) {
      self.addList(name, catalog.lists[name]);
    });
    this.doc = this.read() || { all: [] };
    textarea.addEventListener("input", function () {
      self.fromText();
    });
    // Enter in a builder input must not submit the segment form.
    root.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && event.target.tagName === "INPUT") event.preventDefault();
    });
    document.addEventListener("htmx:afterSwap", function (event) {
      var id = root.getAttribute("data-error-for");
      if (event.detail && event.detail.target && event.detail.target.id === id) self.markError();
    });
    this.render();
  }

  Builder.prototype.context = function (fields, kinds, lists) {
    var byName = {};
    fields.forEach(function (field) {
      byName[field.name] = field;
    });
    return { fields: fields, byName: byName, kinds: kinds, lists: lists };
  };

  Builder.prototype.addList = function (name, values) {
    var list = make("datalist", { id: idFor("list", name) });
    values.forEach(function (value) {
      list.append(make("option", { value: value }));
    });
    this.lists.append(list);
  };

  Builder.prototype.read = function () {
    try {
      return JSON.parse(this.textarea.value);
    } catch (error) {
      return null;
    }
  };

  Builder.prototype.fromText = function () {
    var document_ = this.read();
    if (document_ === null) {
      this.message.textContent = this.t.json_invalid;
      return;
    }
    this.message.textContent = "";
    this.doc = document_;
    this.render();
    this.updateLink();
  };

  Builder.prototype.commit = function (redraw, focus) {
    var indent = this.root.hasAttribute("data-json-compact") ? 0 : 2;
    this.textarea.value = JSON.stringify(this.doc, null, indent);
    this.message.textContent = "";
    this.textarea.dispatchEvent(new CustomEvent("filterchange", { bubbles: true }));
    this.updateLink();
    if (redraw) this.render(focus);
  };

  Builder.prototype.updateLink = function () {
    var link = document.getElementById(this.root.getAttribute("data-contact-list-link") || "");
    if (!link) return;
    var base = link.getAttribute("data-base") || link.pathname;
    link.href = base + "?filter=" + encodeURIComponent(JSON.stringify(this.doc));
  };

  Builder.prototype.render = function (focus) {
    var active = document.activeElement;
    var activeId = active && this.root.contains(active) ? active.id : "";
    var self = this;
    this.tree.replaceChildren(
      this.renderSlotGroup(this.doc, "", function (value) {
        self.doc = value;
      }, this.top, { isRoot: true })
    );
    var target = null;
    if (focus && focus.slot !== undefined) {
      var row = this.tree.querySelector('[data-slot="' + CSS.escape(focus.slot) + '"]');
      target = row && row.querySelector("select, input, textarea, button");
    } else if (focus && focus.id) {
      target = document.getElementById(focus.id);
    } else if (activeId) {
      target = document.getElementById(activeId);
    }
    if (target) target.focus();
    this.markError();
  };

  // --- groups ----------------------------------------------------------------------------------

  /* A place that holds a filter (the root, a record's `where`): drawn as a group even when it
   * holds a single condition (or nothing); the JSON only becomes a group once one is needed. */
  Builder.prototype.renderSlotGroup = function (value, path, set, ctx, opts) {
    if (groupKind(value)) return this.renderGroup(value, path, set, ctx, opts);
    var virtual = { all: value === undefined ? [] : [value] };
    var options = Object.assign({}, opts, {
      virtual: true,
      materialize: function () {
        set(virtual);
      },
      setOnly: set,
    });
    return this.renderGroup(virtual, path, set, ctx, options);
  };

  Builder.prototype.renderGroup = function (group, path, replace, ctx, opts) {
    var self = this;
    var t = this.t;
    var kind = groupKind(group);
    var children = group[kind];
    var slot = opts.slot !== undefined ? opts.slot : path;
    var box = make("fieldset", {
      className: "sb-group" + (opts.negated ? " sb-negated" : "") + (opts.isRoot ? " sb-root" : ""),
      "data-path": opts.virtual ? null : path,
      "data-group-slot": slot,
    });
    var legendText =
      opts.legend || (opts.isRoot ? t.conditions : format(t.group, { number: opts.number || "" }));
    box.append(make("legend", { text: legendText }));

    function structural() {
      if (opts.virtual) opts.materialize();
    }

    var head = make("div", { className: "sb-row sb-group-head" });
    var match = this.select(
      slot,
      "g-match",
      t.match,
      GROUPS.map(function (name) {
        return { value: name, label: t[name] };
      }),
      kind,
      null
    );
    match.input.addEventListener("change", function () {
      structural();
      var value = match.input.value;
      if (value === kind) return;
      group[value] = children;
      delete group[kind];
      self.commit(true);
    });
    head.append(match.wrap);
    if (!opts.isRoot) head.append(this.tools(slot, opts, "group"));
    box.append(head);

    var list = make("ol", { className: "sb-children" });
    children.forEach(function (child, index) {
      var childPath = opts.virtual ? path : at(path, kind) + "[" + index + "]";
      var replaceChild = function (node) {
        children[index] = node;
        if (opts.virtual) opts.setOnly(node);
      };
      var remove = function () {
        structural();
        children.splice(index, 1);
        if (!children.length && opts.onEmpty) opts.onEmpty();
        self.commit(true, { id: idFor(slot, "g-add") });
      };
      list.append(
        make("li", {}, [
          self.renderNode(child, childPath, replaceChild, ctx, { remove: remove, number: index + 1 }),
        ])
      );
    });
    if (!children.length) list.append(make("li", { className: "sb-empty muted", text: t.empty_group }));
    box.append(list);

    var actions = make("div", { className: "sb-actions" });
    var add = this.button(idFor(slot, "g-add"), t.add_condition);
    add.addEventListener("click", function () {
      structural();
      children.push(self.defaultFor(ctx.kinds[0], ctx));
      var childPath = at(path, kind) + "[" + (children.length - 1) + "]";
      self.commit(true, { slot: childPath });
    });
    var addGroup = this.button(idFor(slot, "g-addgroup"), t.add_group);
    addGroup.addEventListener("click", function () {
      structural();
      children.push({ any: [self.defaultFor(ctx.kinds[0], ctx)] });
      var childPath = at(path, kind) + "[" + (children.length - 1) + "]";
      self.commit(true, { id: idFor(childPath, "g-match") });
    });
    actions.append(add, addGroup);
    box.append(actions);
    return box;
  };

  // --- one node in a group: a condition, a group, or either under "not" -------------------------

  Builder.prototype.renderNode = function (node, path, replace, ctx, opts) {
    var self = this;
    var slot = path;
    var inner = node;
    var innerPath = path;
    var innerReplace = replace;
    var negated = false;
    var kind = kindOf(node);
    if (kind === "not") {
      var innerKind = kindOf(node.not);
      if (innerKind === "not" || innerKind === "raw") return this.renderRaw(node, path, replace, ctx, opts);
      negated = true;
      inner = node.not;
      innerPath = at(path, "not");
      innerReplace = function (value) {
        node.not = value;
      };
      kind = innerKind;
    }
    var options = Object.assign({}, opts, {
      slot: slot,
      negated: negated,
      toggleNot: function (on) {
        replace(on ? { not: inner } : inner);
        self.commit(true);
      },
    });
    if (kind === "group") return this.renderGroup(inner, innerPath, innerReplace, ctx, options);
    if (ctx.kinds.indexOf(kind) < 0) return this.renderRaw(node, path, replace, ctx, opts);
    return this.renderCondition(inner, innerPath, innerReplace, ctx, options);
  };

  /* The "exclude (NOT)" switch and the remove button of a condition or group. */
  Builder.prototype.tools = function (slot, opts, what) {
    var t = this.t;
    var tools = make("div", { className: "sb-tools" });
    if (opts.toggleNot) {
      var not = this.checkbox(slot, what === "group" ? "g-not" : "c-not", t.not, opts.negated);
      not.input.addEventListener("change", function () {
        opts.toggleNot(not.input.checked);
      });
      tools.append(not.wrap);
    }
    if (opts.remove) {
      var label = what === "group" ? t.remove_group : t.remove_condition;
      var remove = make("button", {
        type: "button",
        className: "button button-small sb-remove",
        id: idFor(slot, what === "group" ? "g-remove" : "c-remove"),
        text: label,
      });
      remove.addEventListener("click", opts.remove);
      tools.append(remove);
    }
    return tools;
  };

  Builder.prototype.renderCondition = function (node, path, replace, ctx, opts) {
    var self = this;
    var t = this.t;
    var kind = kindOf(node);
    var slot = opts.slot;
    var box = make("fieldset", {
      className: "sb-condition" + (opts.negated ? " sb-negated" : ""),
      "data-path": path,
      "data-slot": slot,
    });
    box.append(this.legend(opts.number));
    var row = make("div", { className: "sb-row" });
    if (ctx.kinds.length > 1) {
      var kinds = ctx.kinds.map(function (name) {
        return { value: name, label: t["kind_" + name] };
      });
      var picker = this.select(slot, "kind", t.kind, kinds, kind, null);
      picker.input.addEventListener("change", function () {
        replace(self.defaultFor(picker.input.value, ctx));
        self.commit(true);
      });
      row.append(picker.wrap);
    }
    box.append(row);
    if (kind === "field") this.fieldControls(node, path, slot, ctx, row);
    else if (kind === "tag") this.tagControls(node, path, slot, row);
    else if (kind === "event") this.eventControls(node, path, slot, box, row);
    else if (kind === "record") this.recordControls(node, path, slot, box, row);
    else if (kind === "segment") this.segmentControls(node, path, slot, row);
    box.append(this.tools(slot, opts, "condition"));
    return box;
  };

  Builder.prototype.renderRaw = function (node, path, replace, ctx, opts) {
    var self = this;
    var t = this.t;
    var slot = path;
    var box = make("fieldset", { className: "sb-condition sb-raw", "data-path": path, "data-slot": slot });
    box.append(this.legend(opts.number));
    var row = make("div", { className: "sb-row" });
    if (ctx.kinds.length > 1) {
      var kinds = [{ value: "raw", label: t.kind_raw }].concat(
        ctx.kinds.map(function (name) {
          return { value: name, label: t["kind_" + name] };
        })
      );
      var picker = this.select(slot, "kind", t.kind, kinds, "raw", null);
      picker.input.addEventListener("change", function () {
        if (picker.input.value === "raw") return;
        replace(self.defaultFor(picker.input.value, ctx));
        self.commit(true);
      });
      row.append(picker.wrap);
    }
    box.append(row);
    var problem = make("p", {
      className: "field-errors",
      id: idFor(slot, "raw-error"),
      hidden: true,
      text: t.raw_invalid,
    });
    var area = this.textarea_(slot, "raw", t.raw, JSON.stringify(node, null, 2), path, 4);
    area.input.classList.add("filter-json");
    area.input.addEventListener("input", function () {
      var value;
      try {
        value = JSON.parse(area.input.value);
      } catch (error) {
        area.input.setAttribute("aria-invalid", "true");
        area.input.setAttribute("aria-describedby", problem.id);
        problem.hidden = false;
        return;
      }
      area.input.removeAttribute("aria-invalid");
      area.input.removeAttribute("aria-describedby");
      problem.hidden = true;
      replace(value);
      node = value;
      self.commit(false);
    });
    area.input.addEventListener("change", function () {
      if (!area.input.hasAttribute("aria-invalid")) self.render();
    });
    box.append(area.wrap, problem, this.tools(slot, opts, "condition"));
    return box;
  };

  // --- conditions ------------------------------------------------------------------------------

  Builder.prototype.defaultFor = function (kind, ctx) {
    var catalog = this.catalog;
    if (kind === "tag") return { tag: "" };
    if (kind === "event") return { event: "page_view", within_days: 30 };
    if (kind === "record") return { record: catalog.records.length ? catalog.records[0].key : "" };
    if (kind === "segment") return { segment: catalog.segments.length ? catalog.segments[0].slug : "" };
    var field = ctx.byName.prefecture || ctx.fields[0];
    if (!field) return { field: "", op: "eq", value: "" };
    var node = { field: field.name, op: catalog.families[field.family][0] };
    this.adaptValue(node, field, true);
    return node;
  };

  Builder.prototype.adaptValue = function (node, field, reset) {
    var shape = valueShape(field, node.op, this.catalog.no_value);
    var value = node.value;
    if (shape === "none") {
      delete node.value;
    } else if (shape === "bool") {
      node.value = typeof value === "boolean" && !reset ? value : true;
    } else if (shape === "days") {
      node.value = typeof value === "number" && !reset ? value : 30;
    } else if (shape === "list") {
      if (reset || value === undefined || value === "") node.value = [];
      else if (!Array.isArray(value)) node.value = [value];
    } else if (shape === "pair") {
      if (reset || !Array.isArray(value) || value.length !== 2) {
        node.value = ["", ""];
        var scalar = value !== undefined && !Array.isArray(value) && typeof value !== "boolean";
        if (!reset && scalar) node.value = [value, ""];
      }
    } else if (reset || typeof value === "boolean" || value === undefined) {
      node.value = "";
    } else if (Array.isArray(value)) {
      node.value = value.length ? value[0] : "";
    }
  };

  Builder.prototype.fieldControls = function (node, path, slot, ctx, row) {
    var self = this;
    var t = this.t;
    var catalog = this.catalog;
    var field = ctx.byName[node.field];
    var options = ctx.fields.map(function (item) {
      return { value: item.name, label: item.label, group: catalog.groups[item.group] || "" };
    });
    var fieldPicker = this.select(slot, "field", t.field, options, node.field, at(path, "field"));
    fieldPicker.input.addEventListener("change", function () {
      var chosen = ctx.byName[fieldPicker.input.value];
      node.field = fieldPicker.input.value;
      var ops = catalog.families[chosen ? chosen.family : "text"];
      var familyChanged = !field || !chosen || field.family !== chosen.family;
      if (ops.indexOf(node.op) < 0) node.op = ops[0];
      self.adaptValue(node, chosen, familyChanged || (chosen && chosen.choices.length > 0));
      self.commit(true);
    });
    row.append(fieldPicker.wrap);

    var ops = catalog.families[field ? field.family : "text"] || [];
    var opPicker = this.select(
      slot,
      "op",
      t.operator,
      ops.map(function (op) {
        return { value: op, label: catalog.operators[op] || op };
      }),
      node.op,
      at(path, "op")
    );
    opPicker.input.addEventListener("change", function () {
      node.op = opPicker.input.value;
      self.adaptValue(node, field, false);
      self.commit(true);
    });
    row.append(opPicker.wrap);
    var editor = this.valueEditor(node, field, path, slot, ctx);
    if (editor) row.append(editor);
  };

  Builder.prototype.valueEditor = function (node, field, path, slot, ctx) {
    var self = this;
    var t = this.t;
    var shape = valueShape(field, node.op, this.catalog.no_value);
    var family = field ? field.family : "text";
    var choices = field ? field.choices : [];
    var place = at(path, "value");
    var changed = function () {
      self.commit(false);
    };
    if (shape === "none") return null;
    if (shape === "bool") {
      var yesNo = this.select(slot, "value", t.value, [
        { value: "true", label: t.yes },
        { value: "false", label: t.no },
      ], node.value === false ? "false" : "true", place);
      yesNo.input.addEventListener("change", function () {
        node.value = yesNo.input.value === "true";
        changed();
      });
      return yesNo.wrap;
    }
    if (shape === "days") {
      var days = this.input(slot, "value", t.days, "number", shown(node.value), place);
      days.input.min = "0";
      days.input.step = "1";
      days.input.addEventListener("input", function () {
        node.value = toInt(days.input.value);
        changed();
      });
      return days.wrap;
    }
    if (shape === "pair") {
      var type = family === "date" ? "date" : family === "number" ? "number" : "text";
      var pair = make("fieldset", { className: "sb-pair", "data-path": place });
      pair.append(make("legend", { text: t.value }));
      ["low", "high"].forEach(function (role, index) {
        var input = self.input(slot, "value-" + role, t[role], type, shown(node.value[index]), place);
        if (type === "number") input.input.step = "any";
        input.input.addEventListener("input", function () {
          node.value[index] = type === "number" ? toNumber(input.input.value) : input.input.value;
          changed();
        });
        pair.append(input.wrap);
      });
      return pair;
    }
    if (shape === "list") {
      if (choices.length) return this.checkboxes(node, slot, place, choices);
      var lines = this.textarea_(slot, "value", t.values_lines, (node.value || []).join("\n"), place, 3);
      lines.input.addEventListener("input", function () {
        node.value = lines.input.value.split("\n").map(function (line) {
          return line.trim();
        }).filter(Boolean);
        changed();
      });
      return lines.wrap;
    }
    if (choices.length) {
      var options = [{ value: "", label: t.choose }].concat(choices);
      var choice = this.select(slot, "value", t.value, options, shown(node.value), place);
      choice.input.addEventListener("change", function () {
        node.value = choice.input.value;
        changed();
      });
      return choice.wrap;
    }
    var inputType = family === "date" ? "date" : family === "number" ? "number" : "text";
    var text = this.input(slot, "value", t.value, inputType, shown(node.value), place);
    if (inputType === "number") text.input.step = "any";
    if (ctx.lists[node.field]) text.input.setAttribute("list", idFor("list", node.field));
    text.input.addEventListener("input", function () {
      node.value = inputType === "number" ? toNumber(text.input.value) : text.input.value;
      changed();
    });
    return text.wrap;
  };

  Builder.prototype.checkboxes = function (node, slot, place, choices) {
    var self = this;
    var values = Array.isArray(node.value) ? node.value : [];
    var known = choices.map(function (choice) {
      return choice.value;
    });
    var all = choices.concat(
      values.filter(function (value) {
        return known.indexOf(value) < 0;
      }).map(function (value) {
        return { value: value, label: value };
      })
    );
    var box = make("fieldset", { className: "sb-checks", "data-path": place });
    box.append(make("legend", { text: this.t.value }));
    all.forEach(function (choice, index) {
      var check = self.checkbox(slot, "value-" + index, choice.label, values.indexOf(choice.value) >= 0);
      check.input.value = choice.value;
      check.input.addEventListener("change", function () {
        var inputs = box.querySelectorAll("input[type=checkbox]");
        node.value = Array.prototype.filter
          .call(inputs, function (input) {
            return input.checked;
          })
          .map(function (input) {
            return input.value;
          });
        self.commit(false);
      });
      box.append(check.wrap);
    });
    return box;
  };

  Builder.prototype.tagControls = function (node, path, slot, row) {
    var self = this;
    var tag = this.input(slot, "tag", this.t.tag, "text", shown(node.tag), at(path, "tag"));
    tag.input.setAttribute("list", idFor("list", "tags"));
    tag.input.addEventListener("input", function () {
      node.tag = tag.input.value;
      self.commit(false);
    });
    row.append(tag.wrap);
  };

  Builder.prototype.segmentControls = function (node, path, slot, row) {
    var self = this;
    var options = [{ value: "", label: this.t.choose }].concat(
      this.catalog.segments.map(function (segment) {
        return { value: segment.slug, label: segment.name + " (" + segment.slug + ")" };
      })
    );
    var current = shown(node.segment);
    var picker = this.select(slot, "segment", this.t.segment, options, current, at(path, "segment"));
    picker.input.addEventListener("change", function () {
      node.segment = picker.input.value;
      self.commit(false);
    });
    row.append(picker.wrap);
  };

  /* Inputs for optional keys of an event or record condition: empty removes the key. */
  Builder.prototype.keyInputs = function (node, path, slot, keys, into) {
    var self = this;
    keys.forEach(function (pair) {
      var key = pair[0];
      var type = pair[1];
      var inputType = type === "int" ? "number" : type;
      var control = self.input(slot, key, self.t[key], inputType, shown(node[key]), at(path, key));
      if (type === "int") {
        control.input.min = "0";
        control.input.step = "1";
      }
      if (key === "min_count") control.input.placeholder = "1"; // SEGMENTS.md's default
      control.input.addEventListener("input", function () {
        var raw = control.input.value.trim();
        if (raw === "") delete node[key];
        else node[key] = type === "int" ? toInt(raw) : raw;
        self.commit(false);
      });
      into.append(control.wrap);
    });
  };

  Builder.prototype.details = function (slot, summary, open) {
    var self = this;
    var id = idFor(slot, "more");
    var details = make("details", { className: "sb-more", id: id });
    details.open = Boolean(this.openDetails[id] || open);
    details.append(make("summary", { text: summary }));
    details.addEventListener("toggle", function () {
      self.openDetails[id] = details.open;
    });
    return details;
  };

  Builder.prototype.eventControls = function (node, path, slot, box, row) {
    var self = this;
    var t = this.t;
    var events = this.catalog.events.slice();
    var picker = this.select(slot, "event", t.event, events, shown(node.event), at(path, "event"));
    picker.input.addEventListener("change", function () {
      node.event = picker.input.value;
      self.commit(false);
    });
    row.append(picker.wrap);
    this.keyInputs(node, path, slot, EVENT_MAIN, row);

    var advanced = EVENT_MORE.some(function (pair) {
      return pair[0] in node;
    }) || "param" in node || "props" in node || "include_machine" in node;
    var more = this.details(slot, t.more_options, advanced);
    var grid = make("div", { className: "sb-row" });
    this.keyInputs(node, path, slot, EVENT_MORE, grid);

    var params = node.param && isObject(node.param) ? node.param : {};
    var paramText = Object.keys(params).map(function (key) {
      return params[key] === null ? key : key + "=" + params[key];
    }).join("\n");
    var param = this.textarea_(slot, "param", t.param, paramText, at(path, "param"), 2);
    var paramHelp = make("p", { className: "help", id: idFor(slot, "param-help"), text: t.param_help });
    param.input.setAttribute("aria-describedby", paramHelp.id);
    param.input.addEventListener("input", function () {
      var value = {};
      param.input.value.split("\n").forEach(function (line) {
        line = line.trim();
        if (!line) return;
        var cut = line.indexOf("=");
        if (cut < 0) value[line] = null;
        else value[line.slice(0, cut).trim()] = line.slice(cut + 1).trim();
      });
      if (Object.keys(value).length) node.param = value;
      else delete node.param;
      self.commit(false);
    });
    param.wrap.append(paramHelp);
    grid.append(param.wrap);

    var propsText = "props" in node ? JSON.stringify(node.props) : "";
    var props = this.textarea_(slot, "props", t.props, propsText, at(path, "props"), 2);
    props.input.addEventListener("input", function () {
      var raw = props.input.value.trim();
      if (!raw) {
        delete node.props;
        props.input.removeAttribute("aria-invalid");
        self.commit(false);
        return;
      }
      try {
        node.props = JSON.parse(raw);
        props.input.removeAttribute("aria-invalid");
      } catch (error) {
        props.input.setAttribute("aria-invalid", "true");
        return;
      }
      self.commit(false);
    });
    grid.append(props.wrap);

    var machine = this.checkbox(slot, "include_machine", t.include_machine, node.include_machine === true);
    machine.input.setAttribute("data-path", at(path, "include_machine"));
    machine.input.addEventListener("change", function () {
      if (machine.input.checked) node.include_machine = true;
      else delete node.include_machine;
      self.commit(false);
    });
    grid.append(machine.wrap);
    more.append(grid);
    box.append(more);
  };

  Builder.prototype.recordControls = function (node, path, slot, box, row) {
    var self = this;
    var t = this.t;
    var catalog = this.catalog;
    var options = catalog.records.map(function (record) {
      return { value: record.key, label: record.label };
    });
    var picker = this.select(slot, "record", t.record, options, shown(node.record), at(path, "record"));
    picker.input.addEventListener("change", function () {
      node.record = picker.input.value;
      delete node.where; // the fields differ from one record type to another
      delete node.sum;
      self.commit(true);
    });
    row.append(picker.wrap);
    this.keyInputs(node, path, slot, RECORD_KEYS, row);

    var record = this.records[node.record];
    var fields = record ? record.fields : [];
    var where = this.context(fields, ["field"], {});
    box.append(
      this.renderSlotGroup(node.where, at(path, "where"), function (value) {
        node.where = value;
      }, where, {
        isRoot: true,
        legend: t.where,
        onEmpty: function () {
          delete node.where;
        },
      })
    );

    var numeric = fields.filter(function (field) {
      return field.family === "number";
    });
    var sum = make("div", { className: "sb-row sb-sum" });
    var sumField = this.select(
      slot,
      "sum-field",
      t.sum,
      [{ value: "", label: t.sum_none }].concat(
        numeric.map(function (field) {
          return { value: field.name, label: field.label };
        })
      ),
      node.sum && isObject(node.sum) ? shown(node.sum.field) : "",
      at(at(path, "sum"), "field")
    );
    sumField.input.addEventListener("change", function () {
      var name = sumField.input.value;
      if (!name) delete node.sum;
      else {
        var previous = isObject(node.sum) ? node.sum : {};
        node.sum = { field: name, op: previous.op || "gte", value: "value" in previous ? previous.value : 0 };
      }
      self.commit(true);
    });
    sum.append(sumField.wrap);
    if (isObject(node.sum)) {
      var total = node.sum;
      var sumPath = at(path, "sum");
      var op = this.select(
        slot,
        "sum-op",
        t.operator,
        catalog.sum_operators.map(function (name) {
          return { value: name, label: catalog.operators[name] || name };
        }),
        shown(total.op),
        at(sumPath, "op")
      );
      op.input.addEventListener("change", function () {
        total.op = op.input.value;
        if (total.op === "between" && !Array.isArray(total.value)) total.value = [total.value, ""];
        if (total.op !== "between" && Array.isArray(total.value)) total.value = total.value[0];
        self.commit(true);
      });
      sum.append(op.wrap);
      var number = { family: "number", choices: [] };
      sum.append(this.valueEditor(total, number, sumPath, slot + ".sum", { lists: {} }));
    }
    box.append(sum);
  };

  // --- controls: each with its label, an id, and the place it edits ------------------------------

  Builder.prototype.button = function (id, text) {
    return make("button", { type: "button", className: "button button-small", id: id, text: text });
  };

  Builder.prototype.legend = function (number) {
    var text = format(this.t.condition, { number: number || 1 });
    return make("legend", { className: "sb-legend", text: text });
  };

  Builder.prototype.wrap = function (slot, role, label, input, place) {
    input.id = idFor(slot, role);
    if (place) input.setAttribute("data-path", place);
    var text = make("label", { for: input.id, text: label });
    var wrap = make("div", { className: "sb-control" }, [text, input]);
    return { wrap: wrap, input: input };
  };

  Builder.prototype.select = function (slot, role, label, options, current, place) {
    var select = make("select");
    var groups = {};
    var known = false;
    options.forEach(function (option) {
      var item = make("option", { value: option.value, text: option.label });
      if (option.value === current) {
        item.selected = true;
        known = true;
      }
      if (option.group) {
        if (!groups[option.group]) {
          groups[option.group] = make("optgroup", { label: option.group });
          select.append(groups[option.group]);
        }
        groups[option.group].append(item);
      } else {
        select.append(item);
      }
    });
    if (!known && current !== undefined && current !== null && current !== "") {
      // A value the catalog does not know (an archived field, a type added later): kept.
      var unknown = make("option", { value: current, text: String(current) });
      unknown.selected = true;
      select.prepend(unknown);
    }
    return this.wrap(slot, role, label, select, place);
  };

  Builder.prototype.input = function (slot, role, label, type, value, place) {
    var input = make("input", { type: type, value: value, autocomplete: "off" });
    return this.wrap(slot, role, label, input, place);
  };

  Builder.prototype.textarea_ = function (slot, role, label, value, place, rows) {
    var area = make("textarea", { rows: String(rows || 3), spellcheck: "false" });
    area.value = value;
    return this.wrap(slot, role, label, area, place);
  };

  Builder.prototype.checkbox = function (slot, role, label, checked) {
    var input = make("input", { type: "checkbox" });
    input.id = idFor(slot, role);
    input.checked = Boolean(checked);
    var text = make("label", { for: input.id, text: label });
    var wrap = make("div", { className: "sb-control sb-check" }, [input, text]);
    return { wrap: wrap, input: input };
  };

  // --- errors from the server, tied to the control they are about -------------------------------

  Builder.prototype.markError = function () {
    this.root.querySelectorAll("[data-sb-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("data-sb-invalid");
      node.classList.remove("sb-invalid");
      var kept = node.getAttribute("data-sb-describedby");
      if (kept) node.setAttribute("aria-describedby", kept);
      else node.removeAttribute("aria-describedby");
      node.removeAttribute("data-sb-describedby");
    });
    var status = document.getElementById(this.root.getAttribute("data-error-for") || "");
    var error = status && status.querySelector("[data-place]");
    if (!error && !(status && status.querySelector("[data-count]"))) {
      // No count yet: the error the form was sent back with, if any.
      error = document.querySelector(".filter-json-field [data-place]");
    }
    var place = error ? error.getAttribute("data-place") : "";
    if (!place) return;
    if (!error.id) error.id = "sb-error-message";
    var targets = [];
    while (place && !targets.length) {
      targets = this.tree.querySelectorAll('[data-path="' + CSS.escape(place) + '"]');
      place = parentPlace(place);
    }
    Array.prototype.forEach.call(targets, function (node) {
      node.setAttribute("data-sb-invalid", "");
      node.setAttribute("data-sb-describedby", node.getAttribute("aria-describedby") || "");
      var described = (node.getAttribute("aria-describedby") || "") + " " + error.id;
      node.setAttribute("aria-describedby", described.trim());
      if (node.tagName === "FIELDSET") node.classList.add("sb-invalid");
      else node.setAttribute("aria-invalid", "true");
    });
  };

  // --- start -----------------------------------------------------------------------------------

  function start(root) {
    if (root.getAttribute("data-builder-ready")) return;
    var textarea = document.getElementById(root.getAttribute("data-json-for") || "");
    if (!textarea) return;
    root.setAttribute("data-builder-ready", "true");
    var inline = document.getElementById(root.getAttribute("data-catalog") || "");
    if (inline) {
      new Builder(root, textarea, JSON.parse(inline.textContent));
      return;
    }
    var url = root.getAttribute("data-catalog-url");
    if (!url) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (catalog) {
        if (catalog) new Builder(root, textarea, catalog);
        else root.removeAttribute("data-builder-ready");
      })
      .catch(function () {
        root.removeAttribute("data-builder-ready");
      });
  }

  function startAll() {
    document.querySelectorAll("[data-segment-builder]").forEach(start);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAll);
  else startAll();
  // Builders that arrive in an htmx fragment.
  document.addEventListener("htmx:load", startAll);
})();
