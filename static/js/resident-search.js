// Lend form: search residents as you type. Progressive enhancement of the "Rechercher" button:
// without JavaScript the button sends the form and the server answers with the same page and the
// matching people; with it, a debounced request to /habitants/recherche fills the same radio list.
// What is typed is personal data: it only travels to the same origin, and is never stored here.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var list = document.getElementById("resident-results");
  var status = document.getElementById("resident-count");
  var form = document.getElementById("lend-form");
  if (!input || !list || !status || !form || !input.dataset.searchUrl || !window.fetch) return;

  var findButton = document.getElementById("find-button");
  var moreRow = document.getElementById("more-row");
  var newChoice = document.getElementById("resident-new");
  var url = input.dataset.searchUrl;
  var timer = null;
  var sequence = 0;
  var page = 1;
  var moreButton = null;

  // The live search replaces the two submit buttons: Enter in another field now lends, as expected.
  if (findButton) findButton.remove();
  if (moreRow) moreRow.remove();

  function checkedRadio() {
    return list.querySelector("input[type=radio]:checked");
  }

  function row(person) {
    var li = document.createElement("li");
    var box = document.createElement("div");
    box.className = "choice";
    var radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "resident";
    radio.value = String(person.id);
    radio.id = "resident-" + person.id;
    var label = document.createElement("label");
    label.htmlFor = radio.id;
    var name = document.createElement("strong");
    name.textContent = person.name;
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = person.meta;
    label.appendChild(name);
    label.appendChild(document.createTextNode(" "));
    label.appendChild(meta);
    // Their open loans (late ones say so in words) and the limit, as the page without JavaScript shows them.
    (person.loans || []).forEach(function (loan) {
      var line = document.createElement("span");
      line.className = "loan-line loan-" + loan.state;
      line.textContent = loan.text;
      label.appendChild(line);
    });
    box.appendChild(radio);
    box.appendChild(label);
    li.appendChild(box);
    return li;
  }

  function removeMore() {
    if (moreButton) {
      moreButton.parentNode.remove();
      moreButton = null;
    }
  }

  function addMore() {
    var p = document.createElement("p");
    moreButton = document.createElement("button");
    moreButton.type = "button";
    moreButton.className = "button";
    moreButton.textContent = input.dataset.more;
    moreButton.addEventListener("click", function () { search(page + 1); });
    p.appendChild(moreButton);
    list.insertAdjacentElement("afterend", p);
  }

  function show(data, append) {
    // Keep the person already chosen at the top, whatever the new search finds.
    var chosen = checkedRadio();
    var keep = chosen ? chosen.closest("li") : null;
    if (!append) {
      Array.prototype.slice.call(list.children).forEach(function (li) {
        if (li !== keep) li.remove();
      });
    }
    data.results.forEach(function (person) {
      if (document.getElementById("resident-" + person.id)) return;
      list.appendChild(row(person));
    });
    removeMore();
    if (data.has_more) addMore();
    page = data.page;
    status.textContent = data.message;
  }

  function search(wanted) {
    var text = input.value.trim();
    var mine = ++sequence;
    if (text.length < 2) {
      status.textContent = text.length ? input.dataset.tooShort : "";
      return;
    }
    status.textContent = input.dataset.searching;
    var query = "?q=" + encodeURIComponent(text) + "&page=" + wanted;
    if (input.dataset.device) query += "&equipement=" + encodeURIComponent(input.dataset.device);
    fetch(url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) {
        if (mine === sequence) show(data, wanted > 1);  // an older, slower answer is dropped
      })
      .catch(function () {
        if (mine === sequence) status.textContent = input.dataset.failed;
      });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search(1); }, 250);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();  // Enter in the search box searches; it never lends
      clearTimeout(timer);
      search(1);
    }
  });

  // Typing a new person's name chooses "Nouvelle personne".
  if (newChoice) {
    ["first_name", "last_name"].forEach(function (id) {
      var field = document.getElementById(id);
      if (!field) return;
      field.addEventListener("input", function () {
        if (field.value.trim() && !checkedRadio()) newChoice.checked = true;
      });
    });
  }
})();
