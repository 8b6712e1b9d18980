package org.lmcache4j;

/**
 * Names the operator or a client chose (model, instance id), made safe for one log line: a newline
 * in a model name must not start what reads as another log record.
 */
final class LogText {
    private LogText() {
    }

    /** {@code text} with control characters written as escapes ({@code \n}, {@code \t}, {@code \u001b}, …). */
    static String oneLine(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (!Character.isISOControl(c) && c != '\u2028' && c != '\u2029') {
                if (out != null) {
                    out.append(c);
                }
                continue;
            }
            if (out == null) {
                out = new StringBuilder(text.length() + 8).append(text, 0, i);
            }
            switch (c) {
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> out.append(String.format("\\u%04x", (int) c));
            }
        }
        return out == null ? text : out.toString();
    }
}
