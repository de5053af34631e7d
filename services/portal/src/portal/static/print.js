// the receipt's print button (a file of its own: the pages' CSP runs no inline script)
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("in-phieu");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});
