// The score sheet's live total and its checks before submitting (a file of its own: the pages' CSP runs no inline
// script). Without it the sheet still works: the browser requires a choice per criterion, the server checks.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("phieu-cham");
  if (!form) { return; }
  form.noValidate = true;  // the messages below, in Vietnamese, beside each field
  var criteria = Array.prototype.slice.call(form.querySelectorAll(".criterion"));

  function vn(points) { return points.toFixed(2).replace(".", ","); }

  function chosen(criterion) {
    var picked = criterion.querySelector("input:checked") || criterion.querySelector("select");
    return picked && picked.value !== "" ? parseFloat(picked.value) : null;
  }

  function refresh() {
    var total = 0, parts = {};
    criteria.forEach(function (c) {
      var value = chosen(c);
      if (value === null) { return; }
      total += value;
      parts[c.dataset.part] = (parts[c.dataset.part] || 0) + value;
    });
    form.querySelectorAll("[data-part-total]").forEach(function (out) {
      out.textContent = vn(parts[out.dataset.partTotal] || 0);
    });
    document.getElementById("tong-diem").textContent = vn(total);
  }

  function say(id, text, criterion) {
    var slot = document.getElementById(id);
    if (slot) { slot.textContent = text; }
    if (criterion) { criterion.classList.toggle("invalid", text !== ""); }
  }

  form.addEventListener("change", function (event) {
    var criterion = event.target.closest(".criterion");
    if (criterion && chosen(criterion) !== null) { say("err-" + criterion.dataset.code, "", criterion); }
    refresh();
  });

  form.addEventListener("submit", function (event) {
    var first = null;
    criteria.forEach(function (c) {
      if (chosen(c) === null) {
        say("err-" + c.dataset.code, "Chưa chấm tiêu chí này: hãy chọn một mức điểm.", c);
        first = first || c;
      }
    });
    var reason = document.getElementById("reason");
    if (reason && reason.value.trim() === "") {
      say("err-reason", "Hãy ghi lý do sửa phiếu chấm.", null);
      first = first || reason;
    }
    if (first) {
      event.preventDefault();
      (first.querySelector ? first.querySelector("input, select") || first : first).focus();
    }
  });
  refresh();
});
