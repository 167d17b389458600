// Tend's small progressive enhancements. No inline scripts anywhere; every
// feature here is optional and the pages work without it.
(function () {
  "use strict";

  // Pre-select the browser's time zone on sign-up, if the user hasn't chosen.
  // Browsers may report an older name (Asia/Calcutta): the select lists the
  // names each alias stands for in data-zone-aliases.
  function detectTimeZone(root) {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    root.querySelectorAll("select[data-detect-time-zone]").forEach(function (select) {
      if (select.dataset.touched || select.value !== "UTC") return;
      var aliases = {};
      try {
        aliases = JSON.parse(select.dataset.zoneAliases || "{}");
      } catch (e) { /* no aliases: the plain name only */ }
      [zone, aliases[zone]].some(function (name) {
        if (name && hasOption(select, name)) {
          select.value = name;
          return true;
        }
        return false;
      });
    });
  }

  function hasOption(select, value) {
    return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }

  // Time zones: a search box above the long list. Without script the list is
  // a plain select grouped by region, which works just as well, only longer.
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/_/g, " ");
  }

  function filterZones(select, query, status) {
    var words = fold(query).split(/\s+/).filter(Boolean);
    var matches = [];
    var best = null;
    var has = function (text) {
      return words.every(function (word) { return text.indexOf(word) !== -1; });
    };
    Array.prototype.forEach.call(select.options, function (option) {
      // "City · Country, which part": a match on city or country beats one
      // on the note alone (New Zealand is Auckland before McMurdo).
      var main = fold(option.textContent.split(",")[0] + " " + option.value.replace(/\//g, " "));
      var match = has(fold(option.textContent + " " + option.value.replace(/\//g, " ")));
      option.hidden = !match;
      if (match) {
        matches.push(option);
        if (!best && has(main)) best = option;
      }
    });
    best = best || matches[0];
    select.querySelectorAll("optgroup").forEach(function (group) {
      group.hidden = !group.querySelector("option:not([hidden])");
    });
    var chosen = select.options[select.selectedIndex];
    if (matches.length && (!chosen || chosen.hidden || matches.length === 1)) {
      select.value = best.value;
      select.dataset.touched = "1";
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
    // Show the matches as an open list while searching.
    select.size = words.length && matches.length > 1 ? Math.min(matches.length, 6) : 0;
    if (!words.length) {
      status.textContent = "";
    } else if (!matches.length) {
      status.textContent = "No time zone matches “" + query.trim() + "”.";
    } else {
      status.textContent = matches.length === 1
        ? "One match, chosen: " + best.textContent
        : matches.length + " matches. Choose one in the list below.";
    }
  }

  function zonePickers(root) {
    root.querySelectorAll("select[data-zone-picker]").forEach(function (select) {
      if (select.dataset.pickerReady || !select.id) return;
      select.dataset.pickerReady = "1";
      var box = document.createElement("div");
      box.className = "zone-search";
      var label = document.createElement("label");
      label.htmlFor = select.id + "-search";
      label.textContent = "Find your time zone";
      var input = document.createElement("input");
      input.type = "search";
      input.id = select.id + "-search";
      input.autocomplete = "off";
      input.placeholder = "City or country, e.g. Lisbon";
      input.setAttribute("aria-controls", select.id);
      var status = document.createElement("p");
      status.className = "help";
      status.id = select.id + "-search-status";
      status.setAttribute("aria-live", "polite");
      input.setAttribute("aria-describedby", status.id);
      box.append(label, input, status);
      select.parentNode.insertBefore(box, select);
      input.addEventListener("input", function (event) {
        // The search itself is no change to the form (the ritual preview
        // listens for those); choosing a zone is, and says so.
        event.stopPropagation();
        filterZones(select, input.value, status);
      });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault(); // choose, don't submit half a form
          select.focus();
        }
      });
    });
  }

  // "Copy link" buttons: data-copy holds a selector of the field to copy.
  function onCopyClick(event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    field.select();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-detect-time-zone]")) {
      event.target.dataset.touched = "1";
    }
  });
  // The ritual form: show only the schedule fields that fit "How often".
  function showScheduleFields(root) {
    root.querySelectorAll("select[name=frequency]").forEach(function (select) {
      var form = select.form;
      if (!form) return;
      form.querySelectorAll("[data-show-for]").forEach(function (group) {
        group.hidden = group.dataset.showFor !== select.value;
      });
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[name=frequency]")) {
      showScheduleFields(document);
    }
  });
  document.addEventListener("DOMContentLoaded", function () { showScheduleFields(document); });

  // Arriving at an exercise's card from a link (the dashboard's tiles, a
  // plan step): open its start form. Without script one tap on "Start" does.
  function openTargetedStart() {
    var card = location.hash && document.getElementById(location.hash.slice(1));
    var start = card && card.matches(".exercise-card") && card.querySelector("details");
    if (start) start.open = true;
  }
  window.addEventListener("hashchange", openTargetedStart);
  document.addEventListener("DOMContentLoaded", openTargetedStart);

  document.addEventListener("click", onCopyClick);
  document.addEventListener("DOMContentLoaded", function () {
    detectTimeZone(document);
    zonePickers(document);
  });
  // An outerHTML swap leaves event.target detached: look at the whole page.
  document.addEventListener("htmx:after:swap", function () {
    detectTimeZone(document);
    zonePickers(document);
  });
})();
