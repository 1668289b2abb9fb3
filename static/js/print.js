// Receipt: the "Imprimer" button opens the browser's print dialog (shown only when JavaScript runs).
(function () {
  "use strict";
  var button = document.getElementById("print-button");
  if (!button) return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
