/**
 * The record: the self-describing, checksummed byte form of a chunk on disk (and on remote tiers).
 * Like {@code memory} and {@code transfer}, a package that does byte layout; every offset is a
 * named constant of {@link org.lmcache4j.record.RecordHeader}.
 */
package org.lmcache4j.record;
