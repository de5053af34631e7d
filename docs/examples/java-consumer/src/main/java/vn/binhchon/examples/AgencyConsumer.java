package vn.binhchon.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.cloudevents.CloudEvent;
import io.cloudevents.core.message.Encoding;
import io.cloudevents.core.provider.EventFormatProvider;
import io.cloudevents.jackson.JsonFormat;
import io.cloudevents.kafka.CloudEventDeserializer;
import io.cloudevents.kafka.KafkaMessageFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads every event of binhchon's topics from the earliest offset to the end they had when it started, as an
 * agency would: each message is deserialised by the CloudEvents SDK's Kafka deserializer (it must be a
 * structured-mode message), the whole CloudEvent is validated against the published envelope schema, and its
 * {@code data} against the JSON Schema its {@code dataschema} names. One line per event, then a summary; the exit
 * status is 1 if any event failed, 2 on a usage error.
 *
 * <pre>
 * java -jar target/agency-consumer.jar --bootstrap-server HOST:PORT --schemas DIR [--command-config FILE] TOPIC...
 * </pre>
 * {@code --command-config}: client properties to sign in with, as Kafka's own tools take them (the broker asks for
 * SASL/SCRAM-SHA-512: {@code security.protocol}, {@code sasl.mechanism}, {@code sasl.jaas.config}).
 */
public final class AgencyConsumer {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String ENVELOPE_SCHEMA = "cloudevent.v1.json";

    public static void main(String[] args) throws Exception {
        String bootstrap = null;
        Path schemasDir = null;
        Duration timeout = Duration.ofSeconds(120);
        Properties signIn = new Properties();
        List<String> topics = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--bootstrap-server" -> bootstrap = args[++i];
                case "--schemas" -> schemasDir = Path.of(args[++i]);
                case "--timeout-seconds" -> timeout = Duration.ofSeconds(Long.parseLong(args[++i]));
                case "--command-config" -> {
                    try (var in = java.nio.file.Files.newInputStream(Path.of(args[++i]))) {
                        signIn.load(in);
                    }
                }
                default -> topics.add(args[i]);
            }
        }
        if (bootstrap == null || schemasDir == null || topics.isEmpty()) {
            System.err.println("usage: agency-consumer --bootstrap-server HOST:PORT --schemas DIR"
                    + " [--timeout-seconds N] [--command-config FILE] TOPIC [TOPIC...]");
            System.exit(2);
        }
        // the SDK finds its formats through ServiceLoader; registered here too, so a merged jar cannot lose it
        EventFormatProvider.getInstance().registerFormat(new JsonFormat());
        Schemas schemas = Schemas.load(schemasDir);
        System.exit(new AgencyConsumer(schemas).read(bootstrap, signIn, topics, timeout) ? 0 : 1);
    }

    private final Schemas schemas;
    private final CloudEventDeserializer deserializer = new CloudEventDeserializer();
    private final Map<String, Integer> byType = new HashMap<>();
    private int valid;
    private int invalid;

    private AgencyConsumer(Schemas schemas) {
        this.schemas = schemas;
        deserializer.configure(Map.of(), false);
    }

    private boolean read(String bootstrap, Properties signIn, List<String> topics, Duration timeout) {
        Properties props = new Properties();
        props.putAll(signIn);
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        // raw bytes here, so that the envelope can be validated as published; the SDK deserialises them below
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        Instant deadline = Instant.now().plus(timeout);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
                if (infos == null || infos.isEmpty()) {
                    System.err.println("no such topic: " + topic);
                    return false;
                }
                infos.forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            // what was there when we started: read up to it, then stop
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            while (!atEnd(consumer, ends)) {
                if (Instant.now().isAfter(deadline)) {
                    System.err.println("timed out before the end of " + ends);
                    return false;
                }
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    check(record);
                }
            }
        }
        String types = byType.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(" "));
        System.out.printf("SUMMARY events=%d valid=%d invalid=%d topics=%d types: %s%n",
                valid + invalid, valid, invalid, topics.size(), types);
        return invalid == 0;
    }

    private static boolean atEnd(KafkaConsumer<String, byte[]> consumer, Map<TopicPartition, Long> ends) {
        for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
            if (consumer.position(end.getKey()) < end.getValue()) {
                return false;
            }
        }
        return true;
    }

    private void check(ConsumerRecord<String, byte[]> record) {
        String where = record.topic() + "/" + record.partition() + "@" + record.offset();
        List<String> problems = new ArrayList<>();
        CloudEvent event = null;
        try {
            Encoding encoding = KafkaMessageFactory.createReader(record).getEncoding();
            if (encoding != Encoding.STRUCTURED) {
                problems.add("not a structured-mode message (" + encoding + ")");
            }
            event = deserializer.deserialize(record.topic(), record.headers(), record.value());
        } catch (RuntimeException e) {
            problems.add("the CloudEvents SDK could not read it: " + e);
        }
        if (event != null) {
            try {
                problems.addAll(schemas.validate(ENVELOPE_SCHEMA, JSON.readTree(record.value()), "envelope"));
                String dataschema = event.getDataSchema() == null ? null : event.getDataSchema().toString();
                if (dataschema == null) {
                    problems.add("no dataschema");
                } else if (event.getData() == null) {
                    problems.add("no data");
                } else {
                    problems.addAll(schemas.validate(dataschema, JSON.readTree(event.getData().toBytes()), "data"));
                }
            } catch (IOException e) {
                problems.add("not JSON: " + e.getMessage());
            }
        }
        String type = event == null ? "?" : event.getType();
        String id = event == null ? "?" : event.getId();
        byType.merge(type, 1, Integer::sum);
        if (problems.isEmpty()) {
            valid++;
            System.out.printf("OK %s %s %s %s%n", where, type, id, event.getDataSchema());
        } else {
            invalid++;
            System.out.printf("FAIL %s %s %s %s%n", where, type, id, String.join("; ", problems));
        }
    }

    /** The published JSON Schemas, by their {@code $id} (which is what {@code dataschema} names). */
    private static final class Schemas {
        private final Map<String, JsonSchema> byId = new HashMap<>();
        private final Map<String, JsonSchema> byFile = new HashMap<>();

        static Schemas load(Path dir) throws IOException {
            Schemas schemas = new Schemas();
            JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
                for (Path file : files) {
                    JsonNode node = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
                    JsonSchema schema = factory.getSchema(node);
                    schemas.byFile.put(file.getFileName().toString(), schema);
                    if (node.hasNonNull("$id")) {
                        schemas.byId.put(node.get("$id").asText(), schema);
                    }
                }
            }
            if (!schemas.byFile.containsKey(ENVELOPE_SCHEMA)) {
                throw new IOException(dir + " holds no " + ENVELOPE_SCHEMA);
            }
            return schemas;
        }

        /** A URL's schema: by its $id, else by its path's end ({@code …/<type>/v<n>.json} is {@code <type>.v<n>.json}). */
        private JsonSchema find(String name) {
            JsonSchema schema = byId.containsKey(name) ? byId.get(name) : byFile.get(name);
            if (schema == null) {
                String[] parts = name.split("/");
                if (parts.length >= 2) {
                    schema = byFile.get(parts[parts.length - 2] + "." + parts[parts.length - 1]);
                }
            }
            return schema;
        }

        List<String> validate(String name, JsonNode value, String what) {
            JsonSchema schema = find(name);
            if (schema == null) {
                return List.of(what + ": no schema for " + name);
            }
            Set<ValidationMessage> errors = schema.validate(value);
            return errors.stream().map(e -> what + ": " + e.getMessage()).sorted().toList();
        }
    }
}
