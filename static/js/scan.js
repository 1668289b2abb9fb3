// Desk scan box: after a refused code, select what was typed so that the next scan replaces it.
(function () {
  "use strict";
  var input = document.querySelector(".scan-input");
  if (!input) return;
  input.focus();
  if (input.value) input.select();
})();
