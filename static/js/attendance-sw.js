/*
 * Stages — service worker of ONE course's attendance pages (« Préparer la journée hors ligne »).
 *
 * Served as /stages/<course>/presence/sw.js, so its scope is /stages/<course>/presence/ and it
 * controls nothing else. It keeps exactly the URLs of the course's list
 * (/stages/<course>/presence/hors-ligne.json, built by stages/attendance/offline.py): the
 * attendance page of each half-day and the static files they load. For those URLs: network
 * first, the kept copy when the network fails (the copy is refreshed from each good answer).
 * Every other request goes to the network untouched and is never kept.
 *
 * The copies are deleted at the list's `expires_at` (the end of the day after the last
 * half-day), and when the page reports a sync that left nothing to send after `clear_after`
 * (the end of the last half-day).
 *
 * Messages from a page:
 *   {type: "prepare"}  → fetches the list and keeps its URLs; answers on the message's port
 *                        {type: "progress", done, total} then {type: "ready", count, expires_at}
 *                        or {type: "failed", message}.
 *   {type: "synced", queueEmpty: true} → deletes the copies once the course is over.
 */
"use strict";

var SCOPE = new URL(self.registration.scope).pathname;          // /stages/<course>/presence/
var COURSE = SCOPE.split("/")[2];
var CACHE = "stages-presence-" + COURSE;
var LIST_URL = SCOPE + "hors-ligne.json";
var NETWORK_WAIT_MS = 6000;  // a network that hangs (a captive Wi-Fi) counts as no network

var listPromise = null;  // the kept list, read once per worker start

function keyOf(url) {
  var parsed = new URL(url, self.location.origin);
  return parsed.origin === self.location.origin ? parsed.pathname + parsed.search : null;
}

function readList() {
  if (!listPromise) {
    listPromise = caches.open(CACHE)
      .then(function (cache) { return cache.match(LIST_URL); })
      .then(function (response) { return response ? response.json() : null; })
      .catch(function () { return null; });
  }
  return listPromise;
}

function forget() {
  listPromise = Promise.resolve(null);
  return caches.delete(CACHE);
}

function expired(list) {
  return Date.now() >= Date.parse(list.expires_at);
}

function fetchFresh(url) {
  return fetch(url, {credentials: "same-origin", cache: "no-store", redirect: "follow"});
}

function keepable(response) {
  // A login page met after a redirect is not the page that was asked for.
  return response && response.ok && !response.redirected && response.type === "basic";
}

function prepare(port) {
  var say = function (message) { if (port) { port.postMessage(message); } };
  return fetchFresh(LIST_URL)
    .then(function (response) {
      if (!keepable(response)) {
        throw new Error(response.status === 401 || response.redirected
          ? "Connexion expirée : reconnectez-vous puis recommencez."
          : "La liste des pages à garder n'a pas pu être obtenue (" + response.status + ").");
      }
      return response.json();
    })
    .then(function (list) {
      return caches.delete(CACHE).then(function () { return caches.open(CACHE); }).then(function (cache) {
        var done = 0;
        say({type: "progress", done: 0, total: list.urls.length});
        return Promise.all(list.urls.map(function (url) {
          return fetchFresh(url).then(function (response) {
            if (!keepable(response)) {
              throw new Error("« " + url + " » n'a pas pu être enregistrée (" + response.status + ").");
            }
            return cache.put(url, response).then(function () {
              done += 1;
              say({type: "progress", done: done, total: list.urls.length});
            });
          });
        })).then(function () {
          // The list itself, last: a half-kept day is never taken for a ready one.
          var body = JSON.stringify(list);
          return cache.put(LIST_URL, new Response(body, {headers: {"Content-Type": "application/json"}}));
        }).then(function () {
          listPromise = Promise.resolve(list);
          say({type: "ready", count: list.urls.length, expires_at: list.expires_at});
        });
      });
    })
    .catch(function (error) {
      return forget().then(function () {
        say({type: "failed", message: error && error.message ? error.message : String(error)});
      });
    });
}

function fromNetworkOrCopy(request, key) {
  return caches.open(CACHE).then(function (cache) {
    var network = fetch(request).then(function (response) {
      if (keepable(response)) {
        cache.put(key, response.clone());
      }
      return response;
    });
    var timer;
    var slow = new Promise(function (resolve, reject) {
      timer = setTimeout(function () { reject(new Error("timeout")); }, NETWORK_WAIT_MS);
    });
    return Promise.race([network, slow]).then(function (response) {
      clearTimeout(timer);
      return response;
    }, function (error) {
      clearTimeout(timer);
      return cache.match(key).then(function (copy) {
        if (copy) { return copy; }
        if (error && error.message === "timeout") { return network; }
        throw error;
      });
    });
  });
}

function respond(request) {
  var key = keyOf(request.url);
  return readList().then(function (list) {
    if (list && expired(list)) {
      return forget().then(function () { return fetch(request); });
    }
    if (!list || list.urls.indexOf(key) === -1) {
      return fetch(request);
    }
    return fromNetworkOrCopy(request, key);
  });
}

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    self.clients.claim().then(readList).then(function (list) {
      if (list && expired(list)) { return forget(); }
      return null;
    })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var key = keyOf(request.url);
  // Decided at once: only what may be on a list goes through the worker.
  if (!key || !(key.indexOf(SCOPE) === 0 || key.indexOf("/static/") === 0 || key === "/favicon.ico")) {
    return;
  }
  event.respondWith(respond(request));
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  var port = event.ports && event.ports[0];
  if (data.type === "prepare") {
    event.waitUntil(prepare(port));
  } else if (data.type === "synced" && data.queueEmpty) {
    event.waitUntil(readList().then(function (list) {
      if (list && Date.now() >= Date.parse(list.clear_after)) {
        return forget().then(function () { if (port) { port.postMessage({type: "forgotten"}); } });
      }
      return null;
    }));
  }
});
