/*
 * Postal-code autofill (〒 → 都道府県・市区町村・町域) for any form, no dependencies.
 *
 * Mark the inputs with data attributes:
 *   <input name="postal_code" data-postal-code="/postal-codes/{code}.json">
 *   <input name="prefecture" data-postal-fill="prefecture">
 *   <input name="city" data-postal-fill="city">
 *   <input name="address" data-postal-fill="address">   (gets the town when empty)
 * The fields are looked up in the postal-code input's own form. Typing seven digits (full-width
 * digits and 〒 are fine) fetches the address from the server's offline data and fills the fields.
 * Loaded as a static file with the page's CSP nonce: no inline script, no eval.
 */
(function () {
  "use strict";

  var lastLookup = new WeakMap(); // input -> the code last looked up
  var filledTown = new WeakMap(); // address input -> the town we put there

  function digitsOf(value) {
    // Full-width digits (０-９) to ASCII, then keep the digits only.
    return value
      .replace(/[０-９]/g, function (c) {
        return String.fromCharCode(c.charCodeAt(0) - 0xfee0);
      })
      .replace(/[^0-9]/g, "");
  }

  function setValue(field, value) {
    if (!field || field.value === value) return;
    field.value = value;
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function fill(input, address) {
    var scope = input.form || document;
    var find = function (name) {
      return scope.querySelector('[data-postal-fill="' + name + '"]');
    };
    setValue(find("prefecture"), address.prefecture);
    setValue(find("city"), address.city);
    setValue(find("town"), address.town);
    var street = find("address");
    if (street && address.town) {
      // Only replace what is empty or what we filled in before, never what someone typed.
      if (street.value === "" || street.value === filledTown.get(street)) {
        setValue(street, address.town);
        filledTown.set(street, address.town);
      }
    }
  }

  function lookUp(input) {
    var code = digitsOf(input.value);
    if (code.length !== 7 || lastLookup.get(input) === code) return;
    lastLookup.set(input, code);
    var template = input.getAttribute("data-postal-code") || "/postal-codes/{code}.json";
    fetch(template.replace("{code}", code), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (address) {
        if (address && digitsOf(input.value) === code) fill(input, address);
      })
      .catch(function () {
        lastLookup.delete(input); // offline: try again on the next keystroke
      });
  }

  function onInput(event) {
    var target = event.target;
    if (target && target.matches && target.matches("input[data-postal-code]")) lookUp(target);
  }

  // Delegated, so inputs added later (htmx fragments) work too.
  document.addEventListener("input", onInput);
  document.addEventListener("change", onInput);
})();
