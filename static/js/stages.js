/*
 * Stages — améliorations progressives (facultatives).
 * L'application fonctionne entièrement sans JavaScript.
 *  1. button[data-copy-target] : copie le texte (ou la valeur) de l'élément ciblé
 *     dans le presse-papiers et affiche « Copié » pendant 2 s.
 *  2. form[data-confirm] : demande confirmation avant l'envoi.
 */
(function () {
  "use strict";

  function textOf(el) {
    if ("value" in el && typeof el.value === "string" && el.tagName !== "BUTTON") {
      return el.value;
    }
    return (el.textContent || "").trim();
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function showCopied(button) {
    if (button.dataset.copyBusy === "1") {
      return;
    }
    var original = button.textContent;
    button.dataset.copyBusy = "1";
    button.textContent = "Copié";
    button.classList.add("is-copied");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("is-copied");
      delete button.dataset.copyBusy;
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy-target]") : null;
    if (!button) {
      return;
    }
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) {
      return;
    }
    event.preventDefault();
    var text = textOf(target);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { showCopied(button); },
        function () { if (fallbackCopy(text)) { showCopied(button); } }
      );
    } else if (fallbackCopy(text)) {
      showCopied(button);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.matches || !form.matches("form[data-confirm]")) {
      return;
    }
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
