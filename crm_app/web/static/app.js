// Small progressive enhancements: everything works without JavaScript too.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var csrf = function () { return document.body.getAttribute("data-csrf") || ""; };

  // Confirm destructive actions.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  // Record pickers: type a name, choose from matching records (the input keeps the id).
  function setupLookup(input) {
    var entity = input.getAttribute("data-lookup");
    var list = document.createElement("datalist");
    list.id = input.id + "-options";
    input.setAttribute("list", list.id);
    input.parentNode.appendChild(list);
    var label = document.querySelector('.lookup-label[data-for="' + input.id + '"]');
    var timer = null;
    var known = {};
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (known[q] && label) { label.textContent = known[q]; return; }
      clearTimeout(timer);
      if (q.length < 2) { return; }
      timer = setTimeout(function () {
        fetch("/api/v1/lookup/" + entity + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            list.innerHTML = "";
            items.forEach(function (item) {
              var option = document.createElement("option");
              option.value = String(item.id);
              option.label = item.label;
              option.textContent = item.label;
              known[String(item.id)] = item.label;
              list.appendChild(option);
            });
          });
      }, 200);
    });
  }
  document.querySelectorAll("input[data-lookup]").forEach(setupLookup);

  // Quote / order line editors: add a row.
  document.querySelectorAll("[data-add-line]").forEach(function (button) {
    button.addEventListener("click", function () {
      var body = document.getElementById(button.getAttribute("data-add-line"));
      var rows = body.querySelectorAll("tr");
      var last = rows[rows.length - 1];
      var clone = last.cloneNode(true);
      var index = rows.length;
      clone.querySelectorAll("input, select").forEach(function (el) {
        el.name = el.name.replace(/-\d+-/, "-" + index + "-");
        if (el.tagName === "INPUT") { el.value = ""; } else { el.selectedIndex = 0; }
      });
      body.appendChild(clone);
    });
  });

  // Pipeline board: drag a card onto another stage.
  var board = document.querySelector(".board[data-board]");
  if (board) {
    var dragged = null;
    board.querySelectorAll(".deal[draggable]").forEach(function (card) {
      card.addEventListener("dragstart", function (e) {
        dragged = card; card.classList.add("dragging");
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
      });
      card.addEventListener("dragend", function () { card.classList.remove("dragging"); });
    });
    board.querySelectorAll(".column").forEach(function (column) {
      column.addEventListener("dragover", function (e) { e.preventDefault(); column.classList.add("drop-hover"); });
      column.addEventListener("dragleave", function () { column.classList.remove("drop-hover"); });
      column.addEventListener("drop", function (e) {
        e.preventDefault();
        column.classList.remove("drop-hover");
        if (!dragged) { return; }
        var stage = column.getAttribute("data-stage");
        if (stage === dragged.getAttribute("data-stage")) { return; }
        var id = dragged.getAttribute("data-id");
        if (column.getAttribute("data-lost") === "1") {
          window.location = "/opportunities/" + id + "/lose?stage_id=" + stage;
          return;
        }
        var body = new URLSearchParams();
        body.set("stage_id", stage);
        body.set("version", dragged.getAttribute("data-version"));
        fetch("/opportunities/" + id + "/stage", {
          method: "POST", credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }, body: body
        }).then(function (r) {
          return r.json().then(function (data) { return { ok: r.ok, data: data }; });
        }).then(function (result) {
          if (!result.ok) { window.alert(result.data.detail || "The deal could not be moved."); window.location.reload(); return; }
          window.location.reload();
        });
      });
    });
  }
})();
