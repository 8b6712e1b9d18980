package org.lmcache4j.metrics;

import java.math.BigDecimal;

/**
 * Numbers as prometheus_client writes them (its {@code floatToGoString}): Python's shortest
 * {@code repr} of the double ({@code 1e-05}, {@code 0.00016}, {@code 600.0}), exponents from the
 * seventh integer digit on ({@code 1.234567e+06}), {@code +Inf}, {@code -Inf}, {@code NaN}. The same
 * text for the same value keeps the {@code le} labels of both exports identical.
 */
final class GoFloat {
    private GoFloat() {
    }

    static String format(double d) {
        if (d == Double.POSITIVE_INFINITY) {
            return "+Inf";
        }
        if (d == Double.NEGATIVE_INFINITY) {
            return "-Inf";
        }
        if (Double.isNaN(d)) {
            return "NaN";
        }
        String s = pythonRepr(d);
        int dot = s.indexOf('.');
        if (d > 0 && dot > 6) {
            String mantissa = (s.charAt(0) + "." + s.substring(1, dot) + s.substring(dot + 1)).replaceAll("[0.]+$", "");
            return mantissa + "e+0" + (dot - 1);
        }
        return s;
    }

    /** Python's repr of a float: positional for exponents -4..15, else d.ddde±XX; always a dot or an e. */
    static String pythonRepr(double d) {
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        // Java's Double.toString gives the shortest digits that round-trip, as Python's repr does.
        BigDecimal v = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = v.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - v.scale(); // decimal exponent of the first digit
        String sign = d < 0 ? "-" : "";
        if (exp >= -4 && exp < 16) {
            String plain = v.abs().toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
    }
}
