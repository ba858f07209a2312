/* "Watch the draw": replays a recorded draw from its published data.
 *
 * The server renders, for each prize, a strip of the real entry ledger (valid ticket numbers
 * in ascending order) around the winning ledger index, and the winning number. This script
 * only scrolls that strip and stops on the winner: there is no randomness here, so everyone
 * sees the same replay of the same result. With prefers-reduced-motion it shows the result
 * straight away; either way the outcome is announced as text in a status region.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-replay]");
  var button = document.querySelector("[data-replay-start]");
  if (!root || !button) {
    return;
  }
  var status = root.querySelector("[data-replay-status]");
  var label = button.querySelector("[data-replay-label]") || button;
  var reels = Array.prototype.slice.call(root.querySelectorAll("[data-reel]"));
  var entryCount = Number(root.getAttribute("data-entry-count"));
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)");
  var FIRST_SPIN_MS = 4200;
  var NEXT_SPIN_MS = 3000; // later prizes spin a little quicker
  var running = false;

  function format(n) {
    return Number(n).toLocaleString("en-GB");
  }

  // Slows down like a wheel coming to rest; a fixed curve, so the same every time.
  function easeOut(t) {
    return 1 - Math.pow(1 - t, 4);
  }

  function items(reel) {
    return Array.prototype.slice.call(reel.querySelectorAll(".reel-item"));
  }

  function winnerPosition(reel) {
    var index = reel.getAttribute("data-winning-index");
    var list = items(reel);
    for (var i = 0; i < list.length; i++) {
      if (list[i].getAttribute("data-index") === index) {
        return i;
      }
    }
    return list.length - 1;
  }

  // The strip is centred on item `position` (a fraction while moving).
  function place(reel, position) {
    var strip = reel.querySelector("[data-reel-strip]");
    var first = strip.firstElementChild;
    var height = first ? first.getBoundingClientRect().height : 0;
    strip.style.transform = "translateY(" + (-position * height) + "px)";
  }

  function reset(reel) {
    reel.classList.remove("is-landed");
    place(reel, 0);
  }

  function resultText(reel) {
    var prize = reel.getAttribute("data-prize");
    return (
      (prize ? prize + ": w" : "W") +
      "inning ticket #" + reel.getAttribute("data-winning-number") +
      ", ledger index " + format(reel.getAttribute("data-winning-index")) +
      " of " + format(entryCount) + " entries."
    );
  }

  function land(reel) {
    place(reel, winnerPosition(reel));
    reel.classList.add("is-landed");
  }

  function spin(reel, duration, done) {
    var target = winnerPosition(reel);
    var started = null;
    function frame(now) {
      if (started === null) {
        started = now;
      }
      var t = Math.min(1, (now - started) / duration);
      place(reel, target * easeOut(t));
      if (t < 1) {
        window.requestAnimationFrame(frame);
      } else {
        land(reel);
        done();
      }
    }
    window.requestAnimationFrame(frame);
  }

  function finish() {
    running = false;
    button.disabled = false;
    label.textContent = "Replay the draw";
    status.textContent = reels.map(resultText).join(" ");
  }

  function play() {
    if (running) {
      return;
    }
    root.hidden = false;
    reels.forEach(reset);
    if (reducedMotion && reducedMotion.matches) {
      reels.forEach(land);
      finish();
      return;
    }
    running = true;
    button.disabled = true;
    status.textContent = "Replaying the draw from " + format(entryCount) + " entries…";
    var next = 0;
    (function step() {
      if (next >= reels.length) {
        finish();
        return;
      }
      spin(reels[next], next === 0 ? FIRST_SPIN_MS : NEXT_SPIN_MS, step);
      next += 1;
    })();
  }

  root.hidden = false;
  button.hidden = false;
  reels.forEach(reset);
  button.addEventListener("click", play);
})();
