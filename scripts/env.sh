# Sourced by ./test.sh and ./lmcache4j: finds a JDK >= 25 and Maven, or says what is missing.
# Sets JAVA_HOME, JAVA and MVN, and exports JAVA_HOME for Maven.

lmc_java_major() { # prints the feature version of the java at $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1
}

lmc_find_jdk() {
  local tried=() candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 \
                   /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/java-2[5-9]* /usr/lib/jvm/jdk-2[5-9]*; do
    [ -n "$candidate" ] || continue
    tried+=("$candidate")
    [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(lmc_java_major "$candidate/bin/java")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      JAVA_HOME=$candidate
      JAVA=$candidate/bin/java
      export JAVA_HOME
      return 0
    fi
  done
  echo "LMCache4j needs a JDK 25 or newer (java.lang.foreign). Looked in: ${tried[*]:-nothing}." >&2
  echo "Install Temurin 25 at /usr/lib/jvm/temurin-25-jdk-amd64 or set JAVA_HOME to a JDK >= 25." >&2
  return 1
}

lmc_find_maven() {
  if command -v mvn >/dev/null 2>&1; then MVN=mvn; return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Maven is missing: installing Debian's maven package." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven) >&2 && MVN=mvn && return 0
  fi
  echo "LMCache4j builds with Maven 3.8 or newer, and 'mvn' is not on PATH." >&2
  return 1
}

# Maven, with the stray colour resets (ESC[0m) that Maven 3.8 prints around a batch run even with -B
# taken out of its output, so that logs read as plain text; the exit status is Maven's.
lmc_mvn() {
  local status=0
  "$MVN" "$@" 2>&1 | sed 's/\x1b\[0m//g' || status=$?
  return "$status"
}
