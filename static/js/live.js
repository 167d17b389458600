// Live exercises: timers that agree across devices, streams, and polite polling.
// Loaded only on exercise pages; no inline scripts, and nothing here is
// required for the page to work (every action is a plain form).
(function () {
  "use strict";

  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // --- streams first, polling as the fallback ---------------------------------
  // A [data-stream] element holds a server-sent events connection (htmx's sse
  // extension), which says "tend:changed" with the new version. When the
  // partner made the move, the event also carries the new stage, drawn for this
  // viewer by the same code as the poll, and it is swapped in as the poll's
  // answer would be: no request at all. Without a stage (our own move, whose
  // stage came back with our request; or a reconnect), a page that is behind
  // asks the poll URL at once. While the stream is open, the [data-poll]
  // elements inside it don't poll on their 2 s timer. When the stream can't
  // connect or is reconnecting, polling goes on as before; hidden tabs neither
  // poll nor stream (the extension closes a hidden tab's stream and reconnects
  // when it is shown, from the version the page has).
  function streamOf(el) {
    return el && el.closest ? el.closest("[data-stream]") : null;
  }

  function behind(stream, el) {
    var latest = stream.dataset.latest;
    if (latest === undefined || el.dataset.version === undefined) return false;
    if (stream.dataset.stream === "version") return Number(el.dataset.version) < Number(latest);
    return el.dataset.version !== latest;
  }

  // Moves of this page on their way (a form inside the stage): until their
  // answer is in, the page waits rather than asks (the answer brings the stage).
  // Ten seconds at most: a move that never ends must not stop the page following.
  var moving = 0;
  var movingUntil = 0;
  function isMove(source) {
    var poll = source && source.closest ? source.closest("[data-poll]") : null;
    return poll !== null && poll !== source;
  }

  function catchUp(stream) {
    if (!window.htmx || (moving > 0 && Date.now() < movingUntil)) return;
    var carried = stream.tendStage;
    stream.querySelectorAll("[data-poll]").forEach(function (el) {
      if (!behind(stream, el)) return;
      if (carried && carried.version === stream.dataset.latest) {
        stream.tendStage = null;
        window.htmx.swap({ sourceElement: el, target: el, text: carried.html, swap: "outerHTML" });
      } else {
        window.htmx.trigger(el, "tend:poll-now");
      }
    });
  }
  // Known by the request itself: its answer replaces the stage, so by the end
  // htmx sends its events from the document, not from the form.
  document.addEventListener("htmx:before:request", function (event) {
    var ctx = event.detail && event.detail.ctx;
    if (!ctx || !isMove(ctx.sourceElement)) return;
    ctx.tendMove = true;
    moving += 1;
    movingUntil = Date.now() + 10000;
  });
  document.addEventListener("htmx:finally:request", function (event) {
    var ctx = event.detail && event.detail.ctx;
    if (!ctx || !ctx.tendMove) return;
    ctx.tendMove = false;
    moving = Math.max(0, moving - 1);
    document.querySelectorAll("[data-stream]").forEach(catchUp);
  });

  // htmx starts on a timer and the sse extension is a later deferred script: on
  // a slow load htmx may go over the page before the extension is there, and
  // nothing is set up for the stream (its element gets no `_htmx`). htmx has run
  // when the poll elements are set up; then process the stream element again.
  // (If htmx hasn't run yet, it will, with the extension in place.)
  (function connectMissedStreams() {
    if (!window.htmx) return;
    document.querySelectorAll("[data-stream]").forEach(function (stream) {
      var poll = stream.querySelector("[data-poll]");
      if (poll && poll._htmx && !stream._htmx && stream.hasAttribute("hx-sse:connect")) {
        window.htmx.process(stream);
      }
    });
  })();

  document.addEventListener("htmx:sse:after:connection", function (event) {
    if (event.target.dataset) event.target.dataset.streaming = "1";
  });
  ["htmx:sse:before:connection", "htmx:sse:error", "htmx:sse:close"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (event.target.dataset) delete event.target.dataset.streaming;
    });
  });
  // "<version> <server clock, ms>", then the new stage on the lines after it
  // if the event carries one. The clock arrives within a few ms of being
  // read, so it says how far our clock is from the server's better than the
  // time a whole request took (timers on both screens then agree closely).
  var clockOffset = null;
  document.addEventListener("tend:changed", function (event) {
    var stream = streamOf(event.target);
    if (!stream || !event.detail) return;
    var text = String(event.detail.data);
    var lineEnd = text.indexOf("\n");
    var parts = (lineEnd < 0 ? text : text.slice(0, lineEnd)).split(" ");
    stream.dataset.latest = parts[0];
    stream.tendStage = lineEnd < 0 ? null : { version: parts[0], html: text.slice(lineEnd + 1) };
    if (parts[1]) {
      // A late delivery only makes the reading smaller: keep the largest one.
      var reading = Number(parts[1]) - Date.now();
      clockOffset = clockOffset === null ? reading : Math.max(clockOffset, reading);
      startTimers();
    }
    catchUp(stream);
  });
  document.addEventListener("tend:end", function (event) {
    // "gone": logged out, password changed, or no longer in the space. The page
    // reloads to show where that leaves this person (usually the log-in page).
    if (event.detail && event.detail.data === "gone" && !window.tendNoReload) window.location.reload();
  });

  document.addEventListener("htmx:config:request", function (event) {
    var source = event.target;
    if (!source || !source.closest || source.closest("[data-poll]") !== source) return;
    if (document.hidden) {
      event.preventDefault();
      return;
    }
    var ctx = event.detail && event.detail.ctx;
    var asked = ctx && ctx.sourceEvent && ctx.sourceEvent.type === "tend:poll-now";
    var stream = streamOf(source);
    if (stream && stream.dataset.streaming && !asked) event.preventDefault();
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && window.htmx) {
      document.querySelectorAll("[data-poll]").forEach(function (el) {
        window.htmx.trigger(el, "tend:poll-now");
      });
    }
  });

  // When each request went out and its answer came back: the server drew the
  // timer in between, so the midpoint is our best reading of "the server's now".
  // (A stage that came in an event has no request: the event's clock is used.)
  document.addEventListener("htmx:before:request", function (event) {
    if (event.detail && event.detail.ctx) event.detail.ctx.tendSentAt = Date.now();
  });
  document.addEventListener("htmx:before:response", function (event) {
    if (event.detail && event.detail.ctx) event.detail.ctx.tendAnsweredAt = Date.now();
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
    var ctx = event.detail.ctx;
    if (ctx && ctx.swap === "none") return;
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
    startTimers(ctx && ctx.tendSentAt && ctx.tendAnsweredAt ? (ctx.tendSentAt + ctx.tendAnsweredAt) / 2 : Date.now());
    // A change announced while this answer was on its way: ask again.
    document.querySelectorAll("[data-stream]").forEach(catchUp);
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

  // The page's own clock reading of the instant the server drew it: the
  // midpoint of its request, read from the navigation's timing on a full load.
  function drawnAt() {
    var nav = window.performance && performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (nav && nav.requestStart && nav.responseStart) {
      return performance.timeOrigin + (nav.requestStart + nav.responseStart) / 2;
    }
    return Date.now();
  }

  function startTimers(clientAtRender) {
    var drawn = clientAtRender || drawnAt();
    ticking.forEach(function (id) { clearInterval(id); });
    ticking = [];
    document.querySelectorAll("[data-timer]").forEach(function (el) {
      var duration = parseInt(el.dataset.durationMs, 10);
      var elapsedAtRender = parseInt(el.dataset.elapsedMs, 10);
      var running = el.dataset.running === "1";
      var serverNow = parseInt(el.dataset.serverNow, 10);
      // our clock + offset = the server's
      var offset = clockOffset !== null ? clockOffset : serverNow - drawn;
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
        el.dataset.remainingAt = String(Date.now()); // when that was true (ticks are 200 ms apart)
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
    document.addEventListener("DOMContentLoaded", function () { startTimers(); });
  } else {
    startTimers();
  }
})();
