/*! Kizuna tracking snippet — dependency-free. Embed:
 *  <script async src="https://KIZUNA/t/kizuna.js"></script>
 *  Optional attributes: data-consent="required" (nothing is sent before kizuna('consent', true)),
 *  data-auto="off" (no automatic page view; call kizuna('page')).
 *  Commands: kizuna('page'), kizuna('track', type, props), kizuna('identify', email),
 *  kizuna('consent', true|false). Calls made before the script loads are queued:
 *  window.kizuna = window.kizuna || function () { (kizuna.q = kizuna.q || []).push(arguments); };
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.JSON) return;
  var endpoint = new URL("/t/collect", script.src).href;
  var VISITOR = "kizuna_vid", CONSENT = "kizuna_consent";
  var needConsent = script.getAttribute("data-consent") === "required";
  var queue = [], timer = null;

  function read(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
  function write(key, value) { try { window.localStorage.setItem(key, value); } catch (e) {} }
  function forget(key) { try { window.localStorage.removeItem(key); } catch (e) {} }
  function randomId() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function consented() { return !needConsent || read(CONSENT) === "yes"; }
  function visitorId() {
    var id = read(VISITOR);
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) { id = randomId(); write(VISITOR, id); }
    return id;
  }
  function send(events) {
    var body = JSON.stringify({ v: visitorId(), consent: consented(), events: events });
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }))) return;
    if (window.fetch) {
      fetch(endpoint, { method: "POST", body: body, keepalive: true, mode: "cors", credentials: "omit",
        headers: { "Content-Type": "text/plain" } })["catch"](function () {});
    }
  }
  function flush() {
    clearTimeout(timer); timer = null;
    while (queue.length) send(queue.splice(0, 50));
  }
  function push(event) {
    if (!consented()) return;
    event.id = randomId();
    queue.push(event);
    if (queue.length >= 20) flush(); else if (!timer) timer = setTimeout(flush, 1000);
  }
  function clip(text, size) { return text ? String(text).slice(0, size) : null; }
  function page() {
    push({ type: "page_view", url: clip(location.href, 2048), title: clip(document.title, 500),
      referrer: clip(document.referrer, 2048), lang: clip(navigator.language, 35) });
  }
  var commands = {
    page: page,
    track: function (type, props) { push({ type: String(type), url: clip(location.href, 2048), props: props || null }); },
    identify: function (email) { push({ type: "identify", url: clip(location.href, 2048), email: String(email) }); flush(); },
    consent: function (given) {
      write(CONSENT, given ? "yes" : "no");
      if (given) { page(); } else { queue = []; forget(VISITOR); }
    }
  };
  function kizuna(name) {
    var command = commands[name];
    if (command) command.apply(null, Array.prototype.slice.call(arguments, 1));
  }
  var waiting = (window.kizuna && window.kizuna.q) || [];
  window.kizuna = kizuna;
  for (var i = 0; i < waiting.length; i++) kizuna.apply(null, waiting[i]);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
  if (script.getAttribute("data-auto") !== "off") page();
})();
