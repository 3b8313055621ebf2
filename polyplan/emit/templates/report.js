// Filter the report: hide every searchable block (entity, schema object, table row,
// diagnostic) whose text does not contain the search words. No network, no dependency.
(function () {
  "use strict";
  var input = document.getElementById("search");
  var count = document.getElementById("search-count");
  var blocks = Array.prototype.slice.call(document.querySelectorAll(".searchable"));
  function filter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    blocks.forEach(function (block) {
      var text = block.textContent.toLowerCase();
      var match = words.every(function (word) { return text.indexOf(word) >= 0; });
      block.classList.toggle("hidden", !match);
      if (match) { shown += 1; }
    });
    count.textContent = words.length ? shown + " of " + blocks.length + " match" : "";
  }
  input.addEventListener("input", filter);
}());
