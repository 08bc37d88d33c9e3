/* consentguard banner: the visitor's side of the cookie registry. No third-party code.
 * One tag: <script src="/_consent/banner.js" defer></script>
 * API: window.consentguard = {allows, on, off, open, state, ready}. */
(function () {
  "use strict";
  var w = window;
  if (w.consentguard && w.consentguard._loaded) return;

  // -- pure functions (exposed as consentguard._internals for tests) -----------------------

  function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  // Whether `name` is `pattern`, where `*` in the pattern matches any run of characters.
  function matches(pattern, name) {
    if (pattern.indexOf("*") < 0) return pattern === name;
    return new RegExp("^" + pattern.split("*").map(escapeRe).join("[\\s\\S]*") + "$").test(name);
  }

  // The declared entry for `name`: the exact name first, else the pattern with the most
  // literal characters (the same rule as the server).
  function lookup(entries, name) {
    var best = null, weight = -1;
    for (var i = 0; i < entries.length; i++) if (entries[i].name === name) return entries[i];
    entries.forEach(function (e) {
      var literal = e.name.replace(/\*/g, "").length;
      if (e.name.indexOf("*") >= 0 && literal > weight && matches(e.name, name)) {
        best = e; weight = literal;
      }
    });
    return best;
  }

  // The host and its parent domains down to two labels ("a.b.example.co" -> a.b.example.co,
  // b.example.co, example.co); for deeper hosts the host and the three nearest the root.
  // IP addresses and single-label hosts have none (host-only cookies only). Only when the
  // endpoint does not name the domains (see domainsToClear): it knows the public suffixes.
  function parentDomains(host) {
    host = String(host || "").toLowerCase().replace(/\.$/, "");
    var labels = host.split(".");
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host) || labels.length < 2 ||
        /^\d+$/.test(labels[labels.length - 1])) return [];
    var out = labels.slice(0, -1).map(function (_, i) { return labels.slice(i).join("."); });
    return out.length > 4 ? [out[0]].concat(out.slice(-3)) : out;
  }

  // The domains to delete refused cookies on: those the server purges on, down to the
  // registrable domain (the state's purge_domains, for this host), else parentDomains.
  function domainsToClear(s, host) {
    host = String(host || "").toLowerCase();
    var named = s && s.purge_domains;
    return named && named[0] === host ? named.slice() : parentDomains(host);
  }

  // The cookie names in a document.cookie string, once each.
  function cookieNames(text) {
    var out = [];
    String(text || "").split(";").forEach(function (part) {
      var i = part.indexOf("="), name = (i < 0 ? "" : part.slice(0, i)).trim();
      if (name && out.indexOf(name) < 0) out.push(name);
    });
    return out;
  }

  // Every declared cookie / storage key, with its category name.
  function entriesOf(state) {
    var out = [];
    state.categories.forEach(function (c) {
      (c.cookies || []).forEach(function (k) {
        out.push({ name: k.name, storage: k.storage || "cookie", domain: k.domain,
                   path: k.path, category: c.name });
      });
    });
    return out;
  }

  // -- state, listeners ---------------------------------------------------------------------

  var d = w.document, listeners = {}, state = null, resolveReady, rejectReady;
  var ready = new Promise(function (res, rej) { resolveReady = res; rejectReady = rej; });
  ready.catch(function () {});

  function allows(name) {
    return !!state && state.categories.some(function (c) { return c.name === name && c.accepted; });
  }

  function on(event, cb) {
    (listeners[event] = listeners[event] || []).push(cb);
    return function () { off(event, cb); };
  }

  function off(event, cb) {
    listeners[event] = (listeners[event] || []).filter(function (f) { return f !== cb; });
  }

  function emit(s) {
    (listeners.change || []).slice().forEach(function (cb) {
      try { cb(s); } catch (e) { console.error(e); }
    });
    try { d.dispatchEvent(new CustomEvent("consentguard:change", { detail: s })); } catch (e) { /* old browser */ }
  }

  var api = w.consentguard = {
    _loaded: true, state: null, ready: ready, allows: allows, on: on, off: off,
    open: function () { return ready.then(function () { show("settings"); }); },
    _internals: { matches: matches, lookup: lookup, parentDomains: parentDomains,
                  domainsToClear: domainsToClear, cookieNames: cookieNames,
                  entriesOf: entriesOf }
  };

  if (!d) return; // not a browser (unit tests load the file for _internals)
  var script = d.currentScript || d.querySelector('script[src*="/banner.js"]');
  if (!script) return;
  var url = new URL(script.src, d.baseURI);
  var endpoint = url.origin + url.pathname.replace(/\/banner\.js$/, "");
  var css = url.searchParams.get("css");
  var cssHref = endpoint + "/banner.css" + (css ? "?v=" + encodeURIComponent(css) : url.search);

  var TEXTS = {
    title: "Cookies on this site",
    body: "We use cookies the site needs to work. With your consent we would also use others, " +
      "for example to learn how the site is used. Accept or reject them all, or choose by " +
      "category; you can change your mind at any time.",
    acceptAll: "Accept all", rejectAll: "Reject all", customise: "Customise",
    save: "Save choices", settingsTitle: "Cookie settings",
    settingsBody: "Choose which kinds of cookies we may use.",
    close: "Close", required: "Always on", policy: "Cookie policy",
    error: "Your choice could not be saved. Please try again."
  };
  function texts() {
    var fromTag = {};
    try { fromTag = JSON.parse(script.getAttribute("data-texts") || "{}"); } catch (e) { /* ignore */ }
    return Object.assign({}, TEXTS, fromTag, w.consentguardTexts || {});
  }

  // -- client-side enforcement --------------------------------------------------------------

  function deleteCookie(name, path, domain) {
    d.cookie = name + "=; expires=Thu, 01 Jan 1970 00:00:00 GMT; max-age=0; path=" + path +
      (domain ? "; domain=" + domain : "") + (/^__(host|secure)-/i.test(name) ? "; secure" : "");
  }

  // Delete the JS-visible cookies and the storage keys of every refused category.
  function purge(s) {
    var refused = s.categories.filter(function (c) { return !c.accepted; })
      .map(function (c) { return c.name; });
    if (!refused.length) return;
    var all = entriesOf(s);
    var cookies = all.filter(function (e) { return e.storage === "cookie"; });
    var names = cookieNames(d.cookie);
    cookies.forEach(function (e) {  // exact names too: a cookie on another path is not visible
      if (e.name.indexOf("*") < 0 && names.indexOf(e.name) < 0) names.push(e.name);
    });
    var hosts = [null].concat(domainsToClear(s, location.hostname));
    names.forEach(function (name) {
      var e = lookup(cookies, name);
      if (!e || refused.indexOf(e.category) < 0) return;
      var domains = e.domain ? hosts.concat(e.domain.replace(/^\./, "")) : hosts;
      var paths = e.path && e.path !== "/" ? ["/", e.path] : ["/"];
      domains.forEach(function (dom) {
        paths.forEach(function (p) { deleteCookie(name, p, dom); });
      });
    });
    ["localStorage", "sessionStorage"].forEach(function (kind) {
      var store, keys = [], entries = all.filter(function (e) { return e.storage === kind; });
      try { store = w[kind]; } catch (e) { return; } // storage disabled
      if (!store || !entries.length) return;
      for (var i = 0; i < store.length; i++) keys.push(store.key(i));
      keys.forEach(function (k) {
        var e = lookup(entries, k);
        if (e && refused.indexOf(e.category) >= 0) store.removeItem(k);
      });
    });
  }

  // Turn <script type="text/plain" data-consent-category="..."> into a running script
  // once its categories (space or comma separated: all needed) are accepted. Scripts run
  // one after the other in document order: an external one is waited for (unless async).
  var queue = Promise.resolve();
  function activate() {
    var sel = 'script[type="text/plain"][data-consent-category]:not([data-cg-queued])';
    d.querySelectorAll(sel).forEach(function (old) {
      var cats = old.getAttribute("data-consent-category").split(/[\s,]+/).filter(Boolean);
      if (!cats.length || !cats.every(allows)) return;
      old.setAttribute("data-cg-queued", "");
      queue = queue.then(function () { return run(old); });
    });
  }

  // Gated scripts added later (by a single-page app, a tag manager) are gated as well.
  function watch() {
    if (!w.MutationObserver) return;
    new MutationObserver(function (records) {
      var found = records.some(function (r) {
        return Array.prototype.some.call(r.addedNodes, function (n) {
          return n.nodeType === 1 && (n.matches("script[data-consent-category]") ||
            !!n.querySelector("script[data-consent-category]"));
        });
      });
      if (found) activate();
    }).observe(d.documentElement, { childList: true, subtree: true });
  }

  function run(old) {
    if (!old.parentNode) return null;
    var s = d.createElement("script"), wait = null;
    Array.prototype.forEach.call(old.attributes, function (a) {
      if (!/^(type|data-type|data-cg-queued)$/.test(a.name)) s.setAttribute(a.name, a.value);
    });
    if (old.getAttribute("data-type")) s.type = old.getAttribute("data-type");
    if (old.nonce) s.nonce = old.nonce;
    s.setAttribute("data-cg-activated", "");
    s.text = old.text;
    if (s.src && !old.hasAttribute("async")) {
      s.async = false;
      wait = new Promise(function (res) { s.onload = s.onerror = res; });
    }
    old.parentNode.replaceChild(s, old);
    return wait;
  }

  // Google Consent Mode v2: a signal is granted when a category naming it is accepted.
  function consentMode(s) {
    if (typeof w.gtag !== "function") return;
    var signals = {}, any = false;
    s.categories.forEach(function (c) {
      (c.consent_mode || []).forEach(function (sig) {
        signals[sig] = c.accepted || signals[sig] === "granted" ? "granted" : "denied";
        any = true;
      });
    });
    if (any) w.gtag("consent", "update", signals);
  }

  function apply(s, changed) {
    var before = state;
    state = api.state = s;
    purge(s);
    consentMode(s);
    var withdrawn = changed && before && before.categories.some(function (c) {
      return c.accepted && !allows(c.name);
    });
    if (!withdrawn) activate();
    if (changed) emit(s);
    if (withdrawn) location.reload(); // running scripts cannot be un-run
  }

  function request(method, body) {
    var init = { method: method, credentials: "same-origin", cache: "no-store",
                 headers: { Accept: "application/json" } };
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(endpoint, init).then(function (r) {
      if (!r.ok) throw new Error("consentguard: " + method + " " + endpoint + " answered " + r.status);
      return r.json();
    });
  }

  // -- the dialog ----------------------------------------------------------------------------

  var root = null, layer = null, prevFocus = null, busy = false, failed = false;

  function el(tag, attrs, kids) {
    var e = d.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (attrs[k] !== false && attrs[k] != null) e.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    });
    (kids || []).forEach(function (k) { if (k) e.appendChild(k); });
    return e;
  }

  function button(action, text, cls) {
    return el("button", { type: "button", class: cls || "cg-btn", "data-cg-action": action, text: text });
  }

  function optional() {
    return state.categories.filter(function (c) { return !c.required; })
      .map(function (c) { return c.name; });
  }

  function first(t) {
    var body = el("p", { id: "cg-body", class: "cg-body", text: t.body + " " });
    var policy = script.getAttribute("data-policy-url");
    if (policy) body.appendChild(el("a", { href: policy, text: t.policy }));
    return [
      el("h2", { id: "cg-title", class: "cg-title", text: t.title }), body,
      el("div", { class: "cg-actions" }, [
        button("accept-all", t.acceptAll), button("reject-all", t.rejectAll),
        button("customise", t.customise)])
    ];
  }

  function settings(t) {
    var chosen = !!state.consent;
    var list = el("ul", { class: "cg-cats" }, state.categories.map(function (c, i) {
      var id = "cg-cat-" + i;
      return el("li", { class: "cg-cat" }, [
        el("div", { class: "cg-cat-head" }, [
          el("input", { type: "checkbox", id: id, "data-cg-category": c.name,
                        "aria-describedby": c.description ? id + "-desc" : null,
                        checked: c.required || (chosen && c.accepted), disabled: c.required }),
          el("label", { for: id, class: "cg-label", text: (c.title || c.name) + " " }, [
            c.required ? el("span", { class: "cg-req", text: t.required }) : null])]),
        c.description ? el("p", { id: id + "-desc", class: "cg-desc", text: c.description }) : null
      ]);
    }));
    return [el("div", { id: "cg-settings", class: "cg-settings" }, [
      el("h2", { id: "cg-title", class: "cg-title", text: t.settingsTitle }),
      el("p", { id: "cg-body", class: "cg-body", text: t.settingsBody }), list,
      el("div", { class: "cg-actions" }, [
        button("save", t.save), button("accept-all", t.acceptAll), button("reject-all", t.rejectAll)]),
      el("button", { type: "button", class: "cg-close", "data-cg-action": "close",
                     "aria-label": t.close, title: t.close, text: "\u00d7" })])];
  }

  function focusables() {
    return Array.prototype.filter.call(root.querySelectorAll("button, input, a[href]"),
      function (e) { return !e.disabled; });
  }

  function show(which, focusAction) {
    if (!root) {
      root = el("div", { id: "cg-banner", class: "cg-banner", role: "dialog", "aria-modal": "false",
                         "aria-labelledby": "cg-title", "aria-describedby": "cg-body", hidden: true });
      root.addEventListener("click", onClick);
      root.addEventListener("keydown", onKey);
      d.body.appendChild(root);
    }
    if (root.hidden) prevFocus = d.activeElement;
    layer = which;
    root.textContent = "";
    root.className = "cg-banner cg-layer-" + which;
    (which === "first" ? first : settings)(texts()).forEach(function (k) { root.appendChild(k); });
    root.hidden = false;
    // Focus the first button (the first choice to make in the settings), or the one asked.
    var target = focusAction ? '[data-cg-action="' + focusAction + '"]'
      : which === "first" ? "button" : "input:not([disabled]), button";
    (root.querySelector(target) || focusables()[0]).focus();
  }

  function close() {
    if (!root) return;
    root.hidden = true;
    root.textContent = "";
    layer = null;
    var p = prevFocus;
    prevFocus = null;
    if (p && p !== d.body && d.contains(p) && p.focus) p.focus();
  }

  // Leave the settings: back to the first layer while a choice is still required.
  function back() {
    if (state.needs_consent) show("first", "customise"); else close();
  }

  function choose(accept) {
    if (busy) return;
    busy = true;
    root.setAttribute("aria-busy", "true");
    request("POST", { accept: accept }).then(function () {
      // Read the state back: a cookie the browser refused to keep (a Secure cookie on plain
      // http, say) would otherwise close the banner on a choice that was never stored.
      return request("GET");
    }).then(function (s) {
      if (!s.consent || s.needs_consent) {
        throw new Error("consentguard: the choice did not stick (the browser kept no consent cookie)");
      }
      return s;
    }).then(function (s) {
      close();
      apply(s, true);
    }, function (err) {
      console.error(err);
      var box = root.querySelector(".cg-error") || root.appendChild(el("p", { class: "cg-error", role: "alert" }));
      box.textContent = texts().error;
    }).then(function () { busy = false; if (root) root.removeAttribute("aria-busy"); });
  }

  function onClick(e) {
    var b = e.target.closest("[data-cg-action]");
    if (!b) return;
    var action = b.getAttribute("data-cg-action");
    if (action === "accept-all") choose(optional());
    else if (action === "reject-all") choose([]);
    else if (action === "customise") show("settings");
    else if (action === "close") back();
    else if (action === "save") {
      choose(Array.prototype.filter.call(root.querySelectorAll("input[data-cg-category]"), function (i) {
        return i.checked && !i.disabled;
      }).map(function (i) { return i.getAttribute("data-cg-category"); }));
    }
  }

  function onKey(e) {
    if (e.key === "Escape" && layer === "settings") {
      e.preventDefault();
      back();
    } else if (e.key === "Tab") {
      var f = focusables(), a = d.activeElement;
      if (!f.length) return;
      if (e.shiftKey && (a === f[0] || !root.contains(a))) { e.preventDefault(); f[f.length - 1].focus(); }
      else if (!e.shiftKey && a === f[f.length - 1]) { e.preventDefault(); f[0].focus(); }
    }
  }

  function loadCss() {
    var have = Array.prototype.some.call(d.querySelectorAll('link[rel="stylesheet"]'), function (l) {
      return l.href.indexOf(endpoint + "/banner.css") === 0;
    });
    if (have) return Promise.resolve();
    return new Promise(function (res) {
      var link = el("link", { rel: "stylesheet", href: cssHref });
      link.onload = link.onerror = res;
      setTimeout(res, 3000);
      d.head.appendChild(link);
    });
  }

  function start() {
    d.addEventListener("click", function (e) {
      var t = e.target.closest && e.target.closest("[data-cg-open]");
      if (!t || failed) return; // no state: a link goes to its href (a no-JS settings page)
      e.preventDefault();
      api.open().catch(function () {});
    });
    var styled = loadCss();
    request("GET").then(function (s) {
      apply(s, false);
      resolveReady(s);
      watch();
      if (s.needs_consent) styled.then(function () { if (!root || root.hidden) show("first"); });
    }, function (err) {
      console.error(err);
      failed = true;
      rejectReady(err);
    });
  }

  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", start); else start();
})();
