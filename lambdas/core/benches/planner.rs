//! The planner's budgets (`docs/PERFORMANCE.md`): N changed paths × M services, against a naive
//! baseline that matches each path against each service's globs one by one, in the same run; and
//! building the catalog of 1,000 services.
//!
//! Run with `make bench` (this, then `scripts/bench-summary`, which prints the figures beside the
//! budgets), or `cargo bench -p deltaship-core --bench planner`.
//!
//! The repository is synthetic but shaped like a real monorepo: services that watch their folder,
//! ignore `docs` and `**/*.md`, depend on two shared libraries and a proto file (one in twenty
//! watches `src`, `Cargo.toml` and `migrations/*.sql` instead); changed paths nested up to four
//! folders deep in services, in shared libraries, in documentation, in protos and elsewhere.

// A benchmark's setup may stop at the first surprise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use deltaship_core::testing::naive::NaivePlanner;
use deltaship_core::{Catalog, Change, SourceFile};

/// A small deterministic generator (64-bit LCG, top bits): the same repository on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

fn service_name(index: usize) -> String {
    format!("svc-{index:04}")
}

fn libraries(services: usize) -> usize {
    (services / 10).max(10)
}

/// `deltaship.toml` and every `services/<name>/service.toml`.
fn manifests(services: usize) -> (SourceFile, Vec<SourceFile>) {
    let settings = SourceFile::new("deltaship.toml", b"deploy_all = [\"rust-toolchain.toml\", \".cargo\"]".to_vec());
    let libs = libraries(services);
    let files = (0..services)
        .map(|index| {
            let name = service_name(index);
            let watch = if index % 20 == 7 { "watch = [\"src\", \"Cargo.toml\", \"migrations/*.sql\"]\n" } else { "" };
            let text = format!(
                "{watch}ignore = [\"docs\", \"**/*.md\"]\n\
                 depends_on = [\"../../libs/lib-{a:03}\", \"../../libs/lib-{b:03}\", \"../../proto/{name}.proto\"]\n\
                 [build]\nproject = \"{name}\"\n\
                 [deploy]\ncluster = \"shop\"\nservice = \"{name}\"\ncontainer = \"app\"\n\
                 image_repository = \"shop/{name}\"\n",
                a = index % libs,
                b = (index * 7 + 3) % libs,
            );
            SourceFile::new(format!("services/{name}/service.toml"), text.into_bytes())
        })
        .collect();
    (settings, files)
}

/// `count` distinct changed paths, in path order (as git and CodeCommit give them).
fn changed_paths(count: usize, services: usize, seed: u64) -> Vec<String> {
    let mut random = Random(seed);
    let libs = libraries(services);
    let modules = ["api", "handlers", "model", "store", "util", "v1", "v2", "internal"];
    let mut paths = BTreeSet::new();
    while paths.len() < count {
        let k = random.below(1_000_000);
        let service = service_name(random.below(services));
        let depth = 1 + random.below(4);
        let nested: Vec<&str> = (0..depth).map(|_| modules[random.below(modules.len())]).collect();
        let nested = nested.join("/");
        let path = match random.below(100) {
            0..=44 => format!("services/{service}/src/{nested}/file_{k}.rs"),
            45..=49 => format!("services/{service}/src/{nested}/README.md"),
            50..=54 => format!("services/{service}/docs/{nested}/page_{k}.md"),
            55..=57 => format!("services/{service}/migrations/{k:07}_change.sql"),
            58..=59 => format!("services/{service}/tests/{nested}/case_{k}.rs"),
            60..=64 => format!("services/{service}/Cargo.toml"),
            65..=79 => format!("libs/lib-{:03}/src/{nested}/mod_{k}.rs", random.below(libs)),
            80..=89 => format!("docs/{nested}/guide_{k}.md"),
            90..=94 => format!("proto/{service}.proto"),
            _ => format!("tools/{nested}/script_{k}.py"),
        };
        paths.insert(path);
    }
    // Allocated afresh in path order, as detect-changes allocates them while it reads
    // GetDifferences page by page (and `deltaship plan` while gix walks the diff): the strings
    // generated above lie scattered over the heap in the order they were drawn, and reading them
    // in path order would time cache misses that no real diff has.
    paths.iter().cloned().collect()
}

fn plans(c: &mut Criterion) {
    for (paths, services, label) in
        [(1_000, 100, "1k_x_100"), (10_000, 1_000, "10k_x_1000"), (100_000, 100, "100k_x_100")]
    {
        let (settings, files) = manifests(services);
        let catalog = Catalog::load(Some(&settings), &files).unwrap();
        let changes: Vec<Change> = changed_paths(paths, services, 42).into_iter().map(Change::Modified).collect();
        let sorted: Vec<&str> = changes.iter().flat_map(Change::paths).collect();
        let naive = NaivePlanner::new(&catalog);

        // The naive loop costs the same for every path (it asks every glob of every service), and
        // all N paths would take minutes a run: it is timed on every (N/1,000)th path, and the
        // summary compares time per path (criterion reports both as paths per second).
        let stride = (sorted.len() / 1_000).max(1);
        let sample: Vec<&str> = sorted.iter().copied().step_by(stride).collect();

        // Both sides must plan the same before their times mean anything.
        let sample_changes: Vec<Change> = sample.iter().map(|path| Change::Modified((*path).to_owned())).collect();
        let plan = catalog.plan(&sample_changes);
        let expected = naive.plan(&sample);
        let mut planned = vec![Vec::new(); services];
        for service in &plan.services {
            let index = catalog.services().iter().position(|s| s.name == service.service.name).unwrap();
            planned[index].clone_from(&service.reasons);
        }
        assert_eq!(planned, expected, "the planner and the naive baseline disagree on {label}");
        let plan = catalog.plan(&changes);
        let deployed = plan.services.len();
        let reasons: usize = plan.services.iter().map(|s| s.reasons.len()).sum();
        println!(
            "{label}: {} changed paths deploy {deployed} of {services} services ({reasons} reasons)",
            sorted.len()
        );

        let mut group = c.benchmark_group(format!("plan_{label}"));
        group.throughput(Throughput::Elements(sorted.len() as u64));
        group.bench_function("deltaship", |b| b.iter(|| black_box(catalog.plan(black_box(&changes)))));
        if paths == 100_000 {
            // Not a budget: the same changes in another order, which the planner sorts first.
            let mut shuffled = changes.clone();
            let mut random = Random(7);
            for at in (1..shuffled.len()).rev() {
                shuffled.swap(at, random.below(at + 1));
            }
            group.bench_function("deltaship_unordered_input", |b| {
                b.iter(|| black_box(catalog.plan(black_box(&shuffled))));
            });
        }
        group.throughput(Throughput::Elements(sample.len() as u64));
        group.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(10));
        group.bench_function("naive", |b| b.iter(|| black_box(naive.plan(black_box(&sample)))));
        group.finish();
    }
}

fn catalogs(c: &mut Criterion) {
    let (settings, files) = manifests(1_000);
    let catalog = Catalog::load(Some(&settings), &files).unwrap();
    let mut group = c.benchmark_group("catalog_1000");
    // The matcher, from the validated services (what the budget is about).
    group.bench_function("new", |b| {
        b.iter_batched(
            || (catalog.settings().clone(), catalog.services().to_vec()),
            |(settings, services)| black_box(Catalog::new(settings, services).unwrap()),
            BatchSize::SmallInput,
        );
    });
    // Everything detect-changes does with the files it read: TOML, validation, the matcher.
    group.bench_function("load", |b| b.iter(|| black_box(Catalog::load(Some(&settings), black_box(&files)).unwrap())));
    group.finish();
}

criterion_group!(benches, plans, catalogs);
criterion_main!(benches);
