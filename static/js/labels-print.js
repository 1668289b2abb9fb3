// Label sheet: the "Imprimer" button opens the browser's print dialog (Ctrl+P works without it).
(function () {
  "use strict";
  var button = document.getElementById("print-labels");
  if (!button || typeof window.print !== "function") return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
