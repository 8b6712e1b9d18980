package org.lmcache4j;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test (or a class of them) that provokes faults on purpose (a full disk, a corrupt
 * record, a dead Redis, a pool that cannot grow): the WARN and ERROR lines the engine logs meanwhile
 * are framed in the test output as expected, so that a passing run reads as passing.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(ProvokesFaults.Frame.class)
public @interface ProvokesFaults {
    /** What the test provokes, in a few words. */
    String value();

    /** Prints the frame on the stream the engine logs to (slf4j-simple: standard error). */
    final class Frame implements BeforeEachCallback, AfterEachCallback {
        @Override
        public void beforeEach(ExtensionContext c) {
            System.err.println("---- expected faults: " + c.getDisplayName() + " provokes " + what(c)
                    + "; the warnings and errors until the end of this frame are part of the test");
        }

        @Override
        public void afterEach(ExtensionContext c) {
            System.err.println("---- end of expected faults (" + c.getDisplayName() + ")");
        }

        private static String what(ExtensionContext c) {
            ProvokesFaults p = c.getRequiredTestMethod().getAnnotation(ProvokesFaults.class);
            if (p == null) {
                p = c.getRequiredTestClass().getAnnotation(ProvokesFaults.class);
            }
            return p == null ? "faults" : p.value();
        }
    }
}
