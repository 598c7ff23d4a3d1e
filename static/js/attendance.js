/*
 * Stages — la présence sur tablette, avec ou sans réseau.
 *
 * 1. form[data-attendance-offline] (templates/attendance/take.html) : chaque modification
 *    (statut, heures, note, signature, refus de signer, contresignature) entre dans une file
 *    d'attente de l'appareil (IndexedDB « stages-presence », un identifiant crypto.randomUUID()
 *    et l'heure de l'appareil par élément), puis part vers l'adresse de synchronisation du
 *    stage : à l'enregistrement, au retour du réseau, à l'ouverture de la page et toutes les
 *    20 secondes tant qu'il reste quelque chose à envoyer. Un élément accepté ou refusé quitte la
 *    file (les refus sont affichés avec leur motif) ; une connexion expirée garde la file
 *    jusqu'à la reconnexion ; un jeton CSRF refusé est renouvelé une fois.
 * 2. [data-offline-prepare] (templates/attendance/prepare.html) : enregistre le service worker
 *    du stage (static/js/attendance-sw.js) et lui fait garder les pages de la journée.
 *
 * Sans JavaScript, la page de présence reste un formulaire ordinaire.
 */
(function () {
  "use strict";

  var PRESENT = ["present", "late", "left_early"];
  var BATCH = 40;
  var PERIOD_MS = 20000;
  var NBSP = "\u00a0";

  // --- File d'attente (IndexedDB) ---------------------------------------------------------

  var dbPromise = null;

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open("stages-presence", 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        var queue = db.createObjectStore("queue", {keyPath: "id"});
        queue.createIndex("course", "course");
        queue.createIndex("slot", "slot");
        db.createObjectStore("meta", {keyPath: "key"});
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  // Runs work(store) in one transaction; resolves with the result of the request it returns.
  function withStore(name, mode, work) {
    dbPromise = dbPromise || openDb();
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var request = work(tx.objectStore(name));
        tx.oncomplete = function () { resolve(request ? request.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function queued(course) {
    return withStore("queue", "readonly", function (store) {
      return store.index("course").getAll(course);
    }).then(function (entries) {
      return entries.sort(function (a, b) { return a.order - b.order; });
    });
  }

  // Puts ``entry`` in the queue in place of any entry waiting for the same slot (the same
  // person's mark, signature, or the half-day's countersignature).
  function enqueue(entry) {
    return withStore("queue", "readwrite", function (store) {
      var request = store.index("slot").getAllKeys(entry.slot);
      request.onsuccess = function () {
        request.result.forEach(function (key) { store.delete(key); });
        store.put(entry);
      };
      return null;
    });
  }

  function dropSlot(slot) {
    return withStore("queue", "readwrite", function (store) {
      var request = store.index("slot").getAllKeys(slot);
      request.onsuccess = function () {
        request.result.forEach(function (key) { store.delete(key); });
      };
      return null;
    });
  }

  function dropIds(ids) {
    return withStore("queue", "readwrite", function (store) {
      ids.forEach(function (id) { store.delete(id); });
      return null;
    });
  }

  function readMeta(key) {
    return withStore("meta", "readonly", function (store) { return store.get(key); })
      .then(function (row) { return row ? row.value : null; });
  }

  function writeMeta(key, value) {
    return withStore("meta", "readwrite", function (store) { return store.put({key: key, value: value}); });
  }

  // --- Petits outils ----------------------------------------------------------------------

  function frTime(date, zone) {
    var parts = new Intl.DateTimeFormat("fr-FR", {
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone
    }).formatToParts(date);
    var hour = parts.filter(function (p) { return p.type === "hour"; })[0].value;
    var minute = parts.filter(function (p) { return p.type === "minute"; })[0].value;
    return String(Number(hour)) + NBSP + "h" + NBSP + minute;
  }

  function plural(count, one, many) {
    return count + " " + (count <= 1 ? one : many);
  }

  function readJson(response) {
    return response.json().catch(function () { return null; });
  }

  // --- La page de présence ----------------------------------------------------------------

  function attendancePage(form) {
    var course = Number(form.dataset.course);
    var part = Number(form.dataset.part);
    var zone = form.dataset.zone;
    var alertBox = document.querySelector("[data-sync-alert]");
    var pendingText = form.querySelector("[data-pending-count]");
    var syncedText = form.querySelector("[data-synced-at]");
    var networkText = form.querySelector("[data-network]");
    var countersignBox = form.querySelector(".countersignature");
    var countersignButton = form.querySelector("[data-countersign]");
    var unsignedText = form.querySelector("[data-unsigned-count]");
    var dialog = document.getElementById("signature-dialog");
    var tokenInput = form.querySelector("input[name='csrf_token']") || {value: ""};
    var rows = Array.prototype.slice.call(form.querySelectorAll(".attendance-row"));
    var rowById = {};
    rows.forEach(function (row) { rowById[row.dataset.enrollment] = row; });
    var order = Date.now();
    var syncing = null;
    var again = false;
    var rejections = [];
    var loginNeeded = false;
    // Signatures of this half-day kept on the device, not yet sent: enrollment id → kind.
    var pendingSignatures = {};
    var countersigned = countersignBox && countersignBox.dataset.countersigned === "1";
    var countersignPending = false;
    // A half-day not begun when the page was drawn (its copy kept in the morning) opens at its
    // start; the server refuses anything earlier anyway.
    var opensAt = form.dataset.opensAt ? Date.parse(form.dataset.opensAt) : null;
    var isOpen = !opensAt || Date.now() >= opensAt;

    // Rows

    function statusOf(row) {
      var checked = row.querySelector(".segmented-input:checked");
      return checked ? checked.value : "";
    }

    function field(row, name) {
      return row.querySelector("[name='" + name + "-" + row.dataset.enrollment + "']");
    }

    function nameOf(row) {
      return row.querySelector(".attendance-name").textContent.trim();
    }

    function setRowState(row, state, text) {
      var label = row.querySelector("[data-row-state]");
      row.dataset.state = state;
      label.textContent = text;
    }

    function missingTime(row) {
      var status = statusOf(row);
      if (status === "late" && !field(row, "arrived").value) { return "arrived"; }
      if (status === "left_early" && !field(row, "left").value) { return "left"; }
      return null;
    }

    function markItem(row) {
      var status = statusOf(row);
      return {
        id: crypto.randomUUID(),
        type: "mark",
        part_id: part,
        enrollment_id: Number(row.dataset.enrollment),
        status: status,
        arrived: status === "late" ? field(row, "arrived").value : "",
        left: status === "left_early" ? field(row, "left").value : "",
        note: field(row, "note").value.trim(),
        at: new Date().toISOString()
      };
    }

    function put(item, slot) {
      order += 1;
      return enqueue({id: item.id, course: course, part: part, slot: slot, order: order, item: item});
    }

    function markChanged(row) {
      var missing = missingTime(row);
      if (!statusOf(row)) { return Promise.resolve(); }
      if (missing) {
        setRowState(row, "modified", missing === "arrived"
          ? "modifié — indiquez l'heure d'arrivée" : "modifié — indiquez l'heure de départ");
        return Promise.resolve();
      }
      setRowState(row, "pending", "en attente de synchronisation");
      var steps = put(markItem(row), "mark:" + part + ":" + row.dataset.enrollment);
      if (PRESENT.indexOf(statusOf(row)) === -1 && pendingSignatures[row.dataset.enrollment]) {
        // Only a person present, late or gone early signs: a waiting signature goes.
        delete pendingSignatures[row.dataset.enrollment];
        setSignatureText(row, "Pas encore signé");
        steps = steps.then(function () { return dropSlot("sign:" + part + ":" + row.dataset.enrollment); });
      }
      return steps;
    }

    // Signatures

    function setSignatureText(row, text) {
      row.querySelector("[data-signature-state]").textContent = text;
    }

    function signedOnServer(row) {
      return Boolean(row.dataset.signed);
    }

    function refreshSignatures() {
      var sealed = countersigned || countersignPending;
      var unsigned = 0;
      rows.forEach(function (row) {
        var button = row.querySelector("[data-sign]");
        var present = PRESENT.indexOf(statusOf(row)) !== -1;
        var signed = signedOnServer(row) || pendingSignatures[row.dataset.enrollment];
        if (present && !signed) { unsigned += 1; }
        if (button) {
          button.hidden = !present || signedOnServer(row) || sealed || row.disabled;
          button.textContent = pendingSignatures[row.dataset.enrollment] ? "Signer à nouveau" : "Faire signer";
        }
      });
      if (unsignedText) {
        unsignedText.hidden = sealed;
        unsignedText.textContent = unsigned
          ? plural(unsigned, "personne présente n'a pas encore signé.", "personnes présentes n'ont pas encore signé.")
          : "Toutes les personnes présentes ont signé ou refusé de signer.";
      }
      if (countersignButton) { countersignButton.hidden = sealed || !isOpen; }
      return unsigned;
    }

    // Counters

    function showCounters(entries) {
      pendingText.textContent = plural(entries.length, "modification en attente", "modifications en attente");
      form.dataset.pending = String(entries.length);
    }

    function refreshCounters() {
      return queued(course).then(function (entries) { showCounters(entries); return entries; });
    }

    function showSynced(iso) {
      syncedText.textContent = "synchronisé à " + frTime(new Date(iso), zone);
    }

    function setOffline(offline) {
      networkText.hidden = !offline;
    }

    function showAlert(nodes) {
      alertBox.textContent = "";
      nodes.forEach(function (node) { alertBox.appendChild(node); });
      alertBox.hidden = nodes.length === 0;
    }

    function paragraph(text) {
      var p = document.createElement("p");
      p.textContent = text;
      return p;
    }

    function showProblems(message) {
      var nodes = [];
      if (loginNeeded) {
        var p = paragraph("Connexion expirée : reconnectez-vous. Les modifications restent sur cet appareil et seront envoyées ensuite. ");
        var link = document.createElement("a");
        link.href = form.dataset.loginUrl;
        link.textContent = "Se reconnecter";
        p.appendChild(link);
        nodes.push(p);
      }
      if (message) { nodes.push(paragraph(message)); }
      if (rejections.length) {
        nodes.push(paragraph("Modifications refusées par le serveur :"));
        var list = document.createElement("ul");
        rejections.forEach(function (text) {
          var li = document.createElement("li");
          li.textContent = text;
          list.appendChild(li);
        });
        nodes.push(list);
      }
      showAlert(nodes);
    }

    // Sync

    function describe(item) {
      var row = item.enrollment_id ? rowById[String(item.enrollment_id)] : null;
      var who = row ? nameOf(row) : (item.type === "countersignature" ? "Contresignature" : "Une personne");
      var what = {mark: "présence", signature: "signature", refusal: "refus de signer", countersignature: "demi-journée"}[item.type];
      return who + " (" + what + ")";
    }

    function applied(item, state) {
      if (item.part_id !== part) { return; }
      var row = item.enrollment_id ? rowById[String(item.enrollment_id)] : null;
      var when = frTime(new Date(item.at), zone);
      if (item.type === "mark" && row && state === "superseded") {
        // A later choice made elsewhere holds (last writer wins): this one is only a revision.
        if (row.dataset.state === "pending") {
          setRowState(row, "superseded", "remplacé par une modification plus récente faite ailleurs — rechargez la page pour la voir");
        }
      } else if (item.type === "mark" && row) {
        row.dataset.saved = item.status;
        if (row.dataset.state === "pending") { setRowState(row, "saved", "enregistré à " + when); }
      } else if ((item.type === "signature" || item.type === "refusal") && row) {
        delete pendingSignatures[row.dataset.enrollment];
        row.dataset.signed = item.type;
        setSignatureText(row, item.type === "refusal" ? "Refus de signer (" + when + ")" : "Signé à " + when);
      } else if (item.type === "countersignature") {
        countersigned = true;
        countersignPending = false;
        form.querySelector("[data-countersignature-state]").textContent = "Contresignée à " + when + ".";
      }
    }

    function rejected(item, reason) {
      rejections.push(describe(item) + " : " + reason);
      if (item.part_id !== part) { return; }
      var row = item.enrollment_id ? rowById[String(item.enrollment_id)] : null;
      if (item.type === "mark" && row && row.dataset.state === "pending") {
        setRowState(row, "rejected", "refusé — " + reason);
      } else if ((item.type === "signature" || item.type === "refusal") && row) {
        delete pendingSignatures[row.dataset.enrollment];
        setSignatureText(row, "Signature refusée — " + reason);
      } else if (item.type === "countersignature") {
        countersignPending = false;
        form.querySelector("[data-countersignature-state]").textContent = "Contresignature refusée — " + reason;
      }
    }

    function renewToken() {
      return fetch(form.dataset.tokenUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (response.status === 401 || response.redirected) { loginNeeded = true; return false; }
          return readJson(response).then(function (data) {
            if (!response.ok || !data || !data.csrf_token) { return false; }
            tokenInput.value = data.csrf_token;
            return true;
          });
        }, function () { return false; });
    }

    // One POST of ``entries``; resolves with "done", "offline", "login" or "failed".
    function send(entries, retried) {
      var items = entries.map(function (entry) { return entry.item; });
      return fetch(form.dataset.syncUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": tokenInput.value},
        body: JSON.stringify({items: items})
      }).then(function (response) {
        setOffline(false);
        if (response.status === 401 || response.redirected) {
          loginNeeded = true;
          showProblems();
          return "login";
        }
        return readJson(response).then(function (data) {
          if (response.status === 400 && data && data.error === "csrf" && !retried) {
            return renewToken().then(function (renewed) {
              if (renewed) { return send(entries, true); }
              showProblems(loginNeeded ? null : "Le jeton de sécurité n'a pas pu être renouvelé.");
              return "failed";
            });
          }
          if (response.status === 429) {
            showProblems("Trop d'envois rapprochés : nouvel essai dans un instant.");
            return "failed";
          }
          if (!response.ok || !data || !data.results) {
            showProblems((data && data.message) || "L'envoi a échoué (erreur " + response.status + ") : nouvel essai dans un instant.");
            return "failed";
          }
          loginNeeded = false;
          if (data.csrf_token) { tokenInput.value = data.csrf_token; }
          var byId = {};
          entries.forEach(function (entry) { byId[entry.id] = entry.item; });
          var done = [];
          data.results.forEach(function (result) {
            var item = byId[result.id];
            if (!item) { return; }
            done.push(result.id);
            if (result.ok) { applied(item, result.state); } else { rejected(item, result.reason || "refusé"); }
          });
          showProblems();
          return dropIds(done).then(function () {
            return writeMeta("synced:" + course, data.synced_at || new Date().toISOString());
          }).then(function () {
            showSynced(data.synced_at || new Date().toISOString());
            return "done";
          });
        });
      }, function () {
        setOffline(true);
        return "offline";
      });
    }

    function syncRounds() {
      again = false;
      return queued(course).then(function (entries) {
        showCounters(entries);
        if (!entries.length) { return null; }
        return send(entries.slice(0, BATCH), false).then(function (outcome) {
          if (outcome !== "done") { return refreshCounters(); }
          return refreshCounters().then(function (left) {
            if (left.length && (again || entries.length > BATCH)) { return syncRounds(); }
            if (!left.length) { tellWorker(); }
            return null;
          });
        });
      });
    }

    function sync() {
      if (syncing) { again = true; return syncing; }
      syncing = syncRounds().catch(function (error) {
        showProblems("Erreur sur cet appareil : " + (error && error.message ? error.message : error));
      }).then(function () {
        syncing = null;
        refreshSignatures();
      });
      return syncing;
    }

    function tellWorker() {
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({type: "synced", queueEmpty: true});
      }
    }

    // What waits on the device shows on the page (a page opened from the worker's copy too).
    function restore(entries) {
      entries.forEach(function (entry) {
        var item = entry.item;
        if (item.part_id !== part) { return; }
        var row = item.enrollment_id ? rowById[String(item.enrollment_id)] : null;
        if (item.type === "mark" && row) {
          var input = row.querySelector(".segmented-input[value='" + item.status + "']");
          if (input) { input.checked = true; }
          field(row, "arrived").value = item.arrived;
          field(row, "left").value = item.left;
          field(row, "note").value = item.note;
          if (item.note) { row.querySelector(".attendance-note").open = true; }
          setRowState(row, "pending", "en attente de synchronisation");
        } else if ((item.type === "signature" || item.type === "refusal") && row) {
          pendingSignatures[row.dataset.enrollment] = item.type;
          setSignatureText(row, (item.type === "refusal" ? "Refus de signer" : "Signé") + " — en attente de synchronisation");
        } else if (item.type === "countersignature") {
          countersignPending = true;
          form.querySelector("[data-countersignature-state]").textContent = "Contresignée — en attente de synchronisation.";
        }
        order = Math.max(order, entry.order);
      });
    }

    // The signature dialog

    var pad = null;
    var signing = null;  // {enrollment: id} or {counter: true}

    function openPad(target) {
      signing = target;
      var row = target.enrollment ? rowById[target.enrollment] : null;
      dialog.querySelector("[data-signature-title]").textContent = row
        ? "Signature de " + nameOf(row) : "Contresignature de la demi-journée";
      dialog.querySelector("[data-pad-refuse]").hidden = !row;
      var unsigned = dialog.querySelector("[data-signature-unsigned]");
      unsigned.hidden = Boolean(row);
      unsigned.textContent = row ? "" : unsignedText.textContent;
      dialog.querySelector("[data-signature-error]").hidden = true;
      dialog.showModal();
      var canvas = dialog.querySelector("[data-signature-canvas]");
      var ratio = Math.min(window.devicePixelRatio || 1, 2);
      canvas.width = Math.round(canvas.offsetWidth * ratio);
      canvas.height = Math.round(canvas.offsetHeight * ratio);
      canvas.getContext("2d").scale(ratio, ratio);
      if (!pad) {
        pad = new window.SignaturePad(canvas, {backgroundColor: "rgb(255, 255, 255)", penColor: "rgb(0, 0, 0)"});
      }
      pad.clear();
    }

    function closePad() {
      signing = null;
      dialog.close();
    }

    function savePad(kind) {
      if (kind !== "refusal" && pad.isEmpty()) {
        dialog.querySelector("[data-signature-error]").hidden = false;
        return;
      }
      var item = {id: crypto.randomUUID(), type: kind, part_id: part, at: new Date().toISOString()};
      var slot;
      if (signing.enrollment) {
        var row = rowById[signing.enrollment];
        item.enrollment_id = Number(signing.enrollment);
        slot = "sign:" + part + ":" + signing.enrollment;
        pendingSignatures[signing.enrollment] = kind;
        setSignatureText(row, (kind === "refusal" ? "Refus de signer" : "Signé") + " — en attente de synchronisation");
      } else {
        slot = "counter:" + part;
        countersignPending = true;
        form.querySelector("[data-countersignature-state]").textContent = "Contresignée — en attente de synchronisation.";
      }
      if (kind !== "refusal") { item.image = pad.toDataURL("image/png"); }
      closePad();
      refreshSignatures();
      put(item, slot).then(refreshCounters);
    }

    // Events

    form.addEventListener("change", function (event) {
      var row = event.target.closest(".attendance-row");
      if (!row) { return; }
      markChanged(row).then(refreshCounters);
      refreshSignatures();
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var submitter = event.submitter;
      if (submitter && submitter.name === "all_present") {
        var steps = rows.filter(function (row) { return !statusOf(row); }).map(function (row) {
          row.querySelector(".segmented-input[value='present']").checked = true;
          return markChanged(row);
        });
        Promise.all(steps).then(refreshCounters);
        refreshSignatures();
        return;
      }
      var incomplete = rows.filter(missingTime);
      if (incomplete.length) {
        showProblems("Indiquez l'heure pour : " + incomplete.map(nameOf).join(", ") + ".");
        field(incomplete[0], missingTime(incomplete[0])).focus();
      }
      sync();
    });

    form.addEventListener("click", function (event) {
      var signButton = event.target.closest("[data-sign]");
      if (signButton) { openPad({enrollment: signButton.dataset.sign}); return; }
      if (event.target.closest("[data-countersign]")) { openPad({counter: true}); }
    });

    if (dialog) {
      dialog.querySelector("[data-pad-clear]").addEventListener("click", function () { pad.clear(); });
      dialog.querySelector("[data-pad-cancel]").addEventListener("click", closePad);
      dialog.querySelector("[data-pad-refuse]").addEventListener("click", function () { savePad("refusal"); });
      dialog.querySelector("[data-pad-accept]").addEventListener("click", function () {
        savePad(signing && signing.enrollment ? "signature" : "countersignature");
      });
    }

    window.addEventListener("online", function () { setOffline(false); sync(); });
    window.addEventListener("offline", function () { setOffline(true); });
    window.setInterval(function () {
      if (Number(form.dataset.pending || "0") > 0) { sync(); }
    }, PERIOD_MS);

    function open() {
      isOpen = true;
      rows.forEach(function (row) { row.disabled = false; });
      form.querySelectorAll(".attendance-intro button, .save-bar button").forEach(function (b) { b.disabled = false; });
      var notice = document.querySelector("[data-opens-notice]");
      if (notice) { notice.hidden = true; }
      refreshSignatures();
    }

    if (opensAt) {
      if (isOpen) {
        open();
      } else {
        form.querySelectorAll(".attendance-intro button, .save-bar button").forEach(function (b) { b.disabled = true; });
        window.setTimeout(open, opensAt - Date.now() + 1000);
      }
    }

    // Start: what waits on the device, the last sync, then an attempt to send.
    setOffline(!navigator.onLine);
    Promise.all([queued(course), readMeta("synced:" + course)]).then(function (results) {
      restore(results[0]);
      showCounters(results[0]);
      var loaded = form.dataset.loadedAt;
      var last = results[1];
      showSynced(last && Date.parse(last) > Date.parse(loaded) ? last : loaded);
      refreshSignatures();
      form.dataset.ready = "1";
      return sync();
    }).catch(function (error) {
      showProblems("La file d'attente de cet appareil est inaccessible : " + (error && error.message ? error.message : error)
        + ". Utilisez « Enregistrer la présence » avec le réseau.");
    });
  }

  // --- « Préparer la journée hors ligne » ----------------------------------------------------

  function preparePage(root) {
    var status = root.querySelector("[data-prepare-status]");
    var bar = root.querySelector("[data-prepare-progress]");
    var again = root.querySelector("[data-prepare-again]");

    function say(text, kind) {
      status.textContent = text;
      status.className = "notice" + (kind ? " notice-" + kind : "");
    }

    function askWorker(worker) {
      return new Promise(function (resolve) {
        var channel = new MessageChannel();
        var timer = window.setTimeout(function () {
          resolve({type: "failed", message: "L'appareil n'a pas répondu à temps."});
        }, 60000);
        channel.port1.onmessage = function (event) {
          var message = event.data || {};
          if (message.type === "progress") {
            bar.hidden = false;
            bar.max = message.total || 1;
            bar.value = message.done;
            return;
          }
          window.clearTimeout(timer);
          resolve(message);
        };
        worker.postMessage({type: "prepare"}, [channel.port2]);
      });
    }

    function run() {
      again.hidden = true;
      if (!("serviceWorker" in navigator) || !("caches" in window) || !window.isSecureContext) {
        say("Ce navigateur ne permet pas de garder les pages sans réseau (il faut un navigateur récent et une adresse en https).", "warning");
        return;
      }
      say("Préparation en cours…");
      navigator.serviceWorker.register(root.dataset.worker, {scope: root.dataset.scope})
        .then(function () { return navigator.serviceWorker.ready; })
        .then(function (registration) { return askWorker(registration.active); })
        .then(function (result) {
          if (result.type === "ready") {
            say("Prêt : " + result.count + " pages et fichiers enregistrés sur cet appareil, valables jusqu'au "
              + root.dataset.expiresLabel + " inclus.", "success");
            root.dataset.ready = "1";
          } else {
            say("La préparation a échoué : " + result.message, "danger");
            again.hidden = false;
          }
        })
        .catch(function (error) {
          say("La préparation a échoué : " + (error && error.message ? error.message : error), "danger");
          again.hidden = false;
        });
    }

    again.addEventListener("click", run);
    run();
  }

  var attendanceForm = document.querySelector("form[data-attendance-offline]");
  if (attendanceForm && window.indexedDB && window.crypto && crypto.randomUUID) {
    attendancePage(attendanceForm);
  }
  var prepare = document.querySelector("[data-offline-prepare]");
  if (prepare) { preparePage(prepare); }
})();
