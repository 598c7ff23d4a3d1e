/*
 * Stages — bouton « Imprimer » (feuille d'émargement).
 * button[data-print] : caché sans JavaScript, affiché ici ; un clic ouvre l'impression
 * du navigateur (la feuille de style @media print ne garde que le tableau).
 */
(function () {
  "use strict";

  function setUp() {
    var buttons = document.querySelectorAll("button[data-print]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        window.print();
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
