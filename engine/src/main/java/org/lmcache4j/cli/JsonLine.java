package org.lmcache4j.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict reader of one line of JSON: objects become maps, arrays lists, whole numbers
 * {@code Long}, other numbers {@code Double}, then strings, booleans and null. Anything that is
 * not JSON is refused with the column where reading stopped, so that a trace's bad line is
 * reported as such rather than as a missing field.
 */
final class JsonLine {
    /** Arrays and objects nest at most this deep: a request is two deep, and recursion must not run out of stack. */
    static final int MAX_DEPTH = 64;
    private final String text;
    private int pos;
    private int depth;

    private JsonLine(String text) {
        this.text = text;
    }

    /** The value on {@code line}, which must hold exactly one JSON value. */
    static Object parse(String line) {
        JsonLine p = new JsonLine(line);
        Object v = p.value();
        p.space();
        if (p.pos < line.length()) {
            throw p.error("unexpected '" + line.charAt(p.pos) + "' after the value");
        }
        return v;
    }

    private Object value() {
        space();
        if (pos >= text.length()) {
            throw error("a value is missing");
        }
        char c = text.charAt(pos);
        if ((c == '{' || c == '[') && depth == MAX_DEPTH) {
            throw error("nested deeper than " + MAX_DEPTH + " levels");
        }
        return switch (c) {
            case '{' -> nested(true);
            case '[' -> nested(false);
            case '"' -> string();
            case 't' -> word("true", Boolean.TRUE);
            case 'f' -> word("false", Boolean.FALSE);
            case 'n' -> word("null", null);
            default -> {
                if (c == '-' || (c >= '0' && c <= '9')) {
                    yield number();
                }
                throw error("unexpected '" + c + "'");
            }
        };
    }

    private Object nested(boolean object) {
        depth++;
        try {
            return object ? object() : array();
        } finally {
            depth--;
        }
    }

    private Map<String, Object> object() {
        Map<String, Object> m = new LinkedHashMap<>();
        pos++;
        space();
        if (peek() == '}') {
            pos++;
            return m;
        }
        while (true) {
            space();
            if (peek() != '"') {
                throw error("expected a quoted key");
            }
            int keyPos = pos;
            String key = string();
            space();
            expect(':');
            if (m.containsKey(key)) {
                pos = keyPos;
                throw error("key '" + key + "' appears twice");
            }
            m.put(key, value());
            space();
            if (peek() == ',') {
                pos++;
            } else {
                expect('}');
                return m;
            }
        }
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<>();
        pos++;
        space();
        if (peek() == ']') {
            pos++;
            return list;
        }
        while (true) {
            list.add(value());
            space();
            if (peek() == ',') {
                pos++;
            } else {
                expect(']');
                return list;
            }
        }
    }

    private String string() {
        StringBuilder sb = new StringBuilder();
        pos++;
        while (pos < text.length()) {
            char c = text.charAt(pos++);
            if (c == '"') {
                return sb.toString();
            }
            if (c == '\\' && pos < text.length()) {
                char e = text.charAt(pos++);
                switch (e) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case 'r' -> sb.append('\r');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'u' -> {
                        if (pos + 4 > text.length() || !text.substring(pos, pos + 4).matches("[0-9a-fA-F]{4}")) {
                            throw error("a \\u escape needs four hex digits");
                        }
                        sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                        pos += 4;
                    }
                    default -> sb.append(e);
                }
            } else {
                sb.append(c);
            }
        }
        throw error("a string is not closed");
    }

    private Object number() {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        boolean whole = true;
        while (pos < text.length() && "0123456789.eE+-".indexOf(text.charAt(pos)) >= 0) {
            whole &= Character.isDigit(text.charAt(pos));
            pos++;
        }
        String s = text.substring(start, pos);
        try {
            return whole ? (Object) Long.parseLong(s) : (Object) Double.parseDouble(s);
        } catch (NumberFormatException e) {
            pos = start;
            throw error("'" + s + "' is not a number");
        }
    }

    private Object word(String w, Object v) {
        if (!text.startsWith(w, pos)) {
            throw error("unexpected '" + text.charAt(pos) + "'");
        }
        pos += w.length();
        return v;
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error(pos < text.length() ? "expected '" + c + "', found '" + text.charAt(pos) + "'"
                    : "expected '" + c + "', found the end of the line");
        }
        pos++;
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void space() {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
            pos++;
        }
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("not JSON: " + what + " at column " + (pos + 1));
    }
}
