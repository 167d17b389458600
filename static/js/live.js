// Live exercises: timers that agree across devices, and polite polling.
// Loaded only on exercise pages; no inline scripts, and nothing here is
// required for the page to work (every action is a plain form).
(function () {
  "use strict";

  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // --- polling: hidden tabs don't poll; a tab coming back polls at once ---
  document.addEventListener("htmx:config:request", function (event) {
    var source = event.target;
    if (document.hidden && source && source.closest && source.closest("[data-poll]") === source) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && window.htmx) {
      document.querySelectorAll("[data-poll]").forEach(function (el) {
        window.htmx.trigger(el, "tend:poll-now");
      });
    }
  });

  // --- keep what someone is typing when the partner's move redraws the stage ---
  var typed = {};
  var sent = {};
  // Words in a form being sent are not "typed but unsent": the server keeps
  // them, or hands them back in its answer.
  document.addEventListener("submit", function (event) {
    event.target.querySelectorAll("textarea, input[type=text]").forEach(function (field) {
      if (field.id) sent[field.id] = true;
    });
  }, true);
  document.addEventListener("htmx:before:swap", function () {
    typed = {};
    document.querySelectorAll("#stage textarea, #stage input[type=text]").forEach(function (field) {
      if (field.id && field.value && !sent[field.id]) typed[field.id] = field.value;
    });
    sent = {};
    var active = document.activeElement;
    typed.__focus = active && active.id ? active.id : null;
  });
  document.addEventListener("htmx:after:swap", function (event) {
    // htmx 4 fires the swap events for a 204 poll too (swap "none"): nothing
    // was redrawn, and restarting the timers would reset them to the last render.
    if (event.detail.ctx && event.detail.ctx.swap === "none") return;
    var lost = [];
    Object.keys(typed).forEach(function (id) {
      if (id === "__focus") return;
      var field = document.getElementById(id);
      if (field && !field.value) field.value = typed[id];
      else if (!field) lost.push(typed[id]);
    });
    // The field is gone (the partner ended the exercise or skipped the step):
    // hand the words back rather than let them vanish.
    var unsent = document.querySelector("#stage [data-unsent]");
    if (lost.length && unsent) {
      unsent.querySelector("textarea").value = lost.join("\n\n");
      unsent.hidden = false;
    }
    if (typed.__focus) {
      var again = document.getElementById(typed.__focus);
      if (again) again.focus();
    }
    startTimers();
  });

  // --- timers ---------------------------------------------------------------
  // The server sends how long the timer has run and its own clock reading;
  // each page counts from those, so two screens agree to within the network
  // delay, whatever their own clocks say.
  function format(ms) {
    var total = Math.max(0, Math.ceil(ms / 1000));
    var minutes = Math.floor(total / 60);
    var seconds = total % 60;
    return minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
  }

  function spoken(ms) {
    var total = Math.round(ms / 1000);
    if (total >= 60 && total % 60 === 0) return total / 60 + (total === 60 ? " minute" : " minutes");
    if (total >= 60) return Math.floor(total / 60) + " minutes " + (total % 60) + " seconds";
    return total + " seconds";
  }

  var audio = null;
  function chime(frequency) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.08, audio.currentTime + 0.05);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 1.2);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 1.3);
    } catch (e) { /* no sound: the visual and spoken cues remain */ }
  }

  var ticking = [];

  function startTimers() {
    ticking.forEach(function (id) { clearInterval(id); });
    ticking = [];
    document.querySelectorAll("[data-timer]").forEach(function (el) {
      var duration = parseInt(el.dataset.durationMs, 10);
      var elapsedAtRender = parseInt(el.dataset.elapsedMs, 10);
      var running = el.dataset.running === "1";
      var serverNow = parseInt(el.dataset.serverNow, 10);
      var offset = serverNow - Date.now(); // our clock + offset = the server's
      var display = el.querySelector("[data-timer-display]");
      var bar = el.querySelector("[data-timer-bar]");
      var announce = el.querySelector("[data-timer-announce]");
      var previous = sessionStorage.getItem("tend-timer-state");
      var state = (running ? "running" : (elapsedAtRender ? "paused" : "waiting")) + ":" + el.closest("[data-version]").dataset.version;

      function remaining() {
        var elapsed = elapsedAtRender + (running ? (Date.now() + offset - serverNow) : 0);
        return duration - elapsed;
      }

      function update() {
        var left = remaining();
        el.dataset.remainingMs = String(Math.max(0, Math.round(left)));
        display.textContent = format(left);
        if (bar) bar.style.transform = "scaleX(" + Math.max(0, Math.min(1, left / duration)) + ")";
        if (left <= 0 && el.dataset.done !== "1") {
          el.dataset.done = "1";
          el.classList.add("timer--done");
          if (running) {
            announce.textContent = "Time's up.";
            if (!reducedMotion) el.classList.add("timer--pulse");
            chime(392);
          }
        }
      }

      if (running && previous && previous.indexOf("running") !== 0 && remaining() > 0) {
        announce.textContent = "Timer started: " + spoken(remaining()) + ".";
        chime(523);
      } else if (!running && elapsedAtRender && previous && previous.indexOf("running") === 0) {
        announce.textContent = "Timer paused.";
      }
      sessionStorage.setItem("tend-timer-state", state);
      update();
      if (running) ticking.push(setInterval(update, 200));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startTimers);
  } else {
    startTimers();
  }
})();
