// Tend's small progressive enhancements. No inline scripts anywhere; every
// feature here is optional and the pages work without it.
(function () {
  "use strict";

  // Pre-select the browser's time zone on sign-up, if the user hasn't chosen.
  function detectTimeZone(root) {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    root.querySelectorAll("select[data-detect-time-zone]").forEach(function (select) {
      if (select.dataset.touched || select.value !== "UTC") return;
      if (Array.prototype.some.call(select.options, function (o) { return o.value === zone; })) {
        select.value = zone;
      }
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

  document.addEventListener("click", onCopyClick);
  document.addEventListener("DOMContentLoaded", function () { detectTimeZone(document); });
  document.addEventListener("htmx:after:swap", function (event) {
    detectTimeZone(event.target || document);
  });
})();
