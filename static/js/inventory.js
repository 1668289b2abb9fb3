// Inventory pages, progressive enhancement only: everything works without this file.
(function () {
  "use strict";

  // Device form: show the SIM fields only for kinds that carry a SIM card.
  var sim = document.getElementById("sim-fields");
  var kind = document.getElementById("kind");
  if (sim && kind) {
    var simKinds = (sim.getAttribute("data-sim-kinds") || "").split(" ").filter(Boolean);
    var hasValue = function () {
      return Array.prototype.some.call(sim.querySelectorAll("input"), function (input) { return input.value.trim() !== ""; });
    };
    var update = function () {
      // Never hide a field that holds a value or an error: nothing typed disappears from view.
      sim.hidden = simKinds.indexOf(kind.value) === -1 && !hasValue() && !sim.querySelector(".error");
    };
    kind.addEventListener("change", update);
    update();
  }

  // Inventory list: a "tick every device of this page" box for the label sheet.
  var labelsForm = document.getElementById("labels-form");
  var head = document.querySelector("table.inventory th.pick");
  if (labelsForm && head) {
    var boxes = document.querySelectorAll('table.inventory input[name="tag"]');
    var all = document.createElement("input");
    all.type = "checkbox";
    all.id = "pick-all";
    all.setAttribute("aria-label", head.getAttribute("data-all-label") || "Tout cocher sur cette page");
    head.textContent = "";
    head.appendChild(all);
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
    });
  }
})();
