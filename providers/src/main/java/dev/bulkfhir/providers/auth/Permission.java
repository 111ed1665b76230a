package dev.bulkfhir.providers.auth;

import java.util.EnumSet;
import java.util.Set;

/**
 * The five SMART v2 permissions, in the order the scope syntax requires ({@code cruds}). SMART v1
 * {@code read} is {@code rs}, {@code write} is {@code cud} and {@code *} is all five.
 */
public enum Permission {
    /** type-level create */
    CREATE('c'),
    /** read, vread, instance history */
    READ('r'),
    /** update, patch */
    UPDATE('u'),
    /** delete */
    DELETE('d'),
    /** type and system search and history */
    SEARCH('s');

    /** What SMART v1 {@code .read} grants, and what an export needs on every type it returns. */
    public static final Set<Permission> V1_READ = Set.copyOf(EnumSet.of(READ, SEARCH));
    /** What SMART v1 {@code .write} grants. */
    public static final Set<Permission> V1_WRITE = Set.copyOf(EnumSet.of(CREATE, UPDATE, DELETE));
    public static final Set<Permission> ALL = Set.copyOf(EnumSet.allOf(Permission.class));

    private final char letter;

    Permission(char letter) {
        this.letter = letter;
    }

    public char letter() {
        return letter;
    }

    /** The v2 letters of a set, in {@code cruds} order. */
    static String letters(Set<Permission> permissions) {
        StringBuilder text = new StringBuilder();
        for (Permission permission : values()) {
            if (permissions.contains(permission)) {
                text.append(permission.letter);
            }
        }
        return text.toString();
    }
}
