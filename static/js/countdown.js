/* Fairdraw live countdowns.
 *
 * Any element with data-ends-at="<ISO 8601 time>" ticks once a second. The server renders the
 * closing date and a snapshot of the time left, so the page reads correctly without this script;
 * the script only keeps the numbers moving. Inside the element:
 *   [data-unit="days|hours|minutes|seconds"]  one number per unit (the big countdowns)
 *   [data-countdown-compact]                  a short "3h 12m 05s" (cards)
 */
(function () {
  "use strict";

  var timers = Array.prototype.slice.call(document.querySelectorAll("[data-ends-at]"));
  if (!timers.length) {
    return;
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function split(seconds) {
    return {
      days: Math.floor(seconds / 86400),
      hours: Math.floor((seconds % 86400) / 3600),
      minutes: Math.floor((seconds % 3600) / 60),
      seconds: seconds % 60
    };
  }

  function compact(p) {
    if (p.days > 0) {
      return p.days + "d " + pad(p.hours) + "h " + pad(p.minutes) + "m";
    }
    return pad(p.hours) + "h " + pad(p.minutes) + "m " + pad(p.seconds) + "s";
  }

  timers.forEach(function (el) {
    el._endsAt = Date.parse(el.getAttribute("data-ends-at"));
  });

  function tick() {
    var now = Date.now();
    timers.forEach(function (el) {
      if (isNaN(el._endsAt)) {
        return;
      }
      var left = Math.max(0, Math.floor((el._endsAt - now) / 1000));
      var parts = split(left);
      ["days", "hours", "minutes", "seconds"].forEach(function (unit) {
        var slot = el.querySelector('[data-unit="' + unit + '"]');
        if (slot) {
          slot.textContent = unit === "days" ? String(parts.days) : pad(parts[unit]);
        }
      });
      var short = el.querySelector("[data-countdown-compact]");
      if (short) {
        short.textContent = compact(parts);
      }
      el.classList.toggle("is-over", left === 0);
    });
  }

  tick();
  window.setInterval(tick, 1000);
})();
