package dev.bulkfhir.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** {@code java -jar bulk-fhir-server.jar [serve|load|keygen|token] [options]}; with no command it serves. */
@Command(
        name = "bulk-fhir",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "FHIR R4 server with native Binary reads and Bulk Data export.",
        subcommands = {ServeCommand.class, LoadCommand.class, KeygenCommand.class, TokenCommand.class})
public final class Main {

    private static final Set<String> COMMANDS = Set.of("serve", "load", "keygen", "token", "help", "-h", "--help", "-V", "--version");

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String... args) {
        List<String> arguments = new ArrayList<>(List.of(args));
        if (arguments.isEmpty() || !COMMANDS.contains(arguments.get(0))) {
            arguments.add(0, "serve");
        }
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.setDefaultValueProvider(new SettingsSource(arguments));
        return commandLine.execute(arguments.toArray(String[]::new));
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"Bulk FHIR " + (version == null ? "(development build)" : version)};
        }
    }
}
