//! The planner's budgets (`docs/PERFORMANCE.md`): N changed paths × M services, in the same run
//! against two baselines, and building the catalog of 1,000 services. The baselines: a naive loop
//! that matches each path against each service's globs one by one, and the fair alternative, one
//! `globset::GlobSet` of every service's globs that matches each path once and maps the matching
//! globs back to their services.
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
use deltaship_core::testing::naive::{NaivePlanner, pattern_matchers};
use deltaship_core::{Catalog, Change, SourceFile};
use globset::{GlobSet, GlobSetBuilder};

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

/// What a glob of [`OneGlobSet`] belongs to.
#[derive(Clone, Copy)]
enum Owner {
    /// A service's `watch` or `depends_on` (the service's index).
    Include(usize),
    /// A service's `ignore`.
    Ignore(usize),
    /// The repository's `deploy_all`.
    DeployAll,
}

/// Every service's globs (and `deploy_all`) compiled into one `GlobSet`, each path matched once
/// (`matches_into`), the matching globs mapped back to their services: the alternative to the
/// planner a competent engineer would write with globset. The globs are the reference planner's
/// ([`pattern_matchers`]), so both baselines match by the same rules.
struct OneGlobSet {
    set: GlobSet,
    owners: Vec<Owner>,
    services: usize,
}

impl OneGlobSet {
    fn new(catalog: &Catalog) -> Self {
        let mut builder = GlobSetBuilder::new();
        let mut owners = Vec::new();
        let mut add = |patterns: &mut dyn Iterator<Item = &String>, owner: Owner| {
            for matcher in patterns.flat_map(|pattern| pattern_matchers(pattern).unwrap()) {
                builder.add(matcher.glob().clone());
                owners.push(owner);
            }
        };
        for (index, service) in catalog.services().iter().enumerate() {
            add(&mut service.watch.iter().chain(&service.depends_on), Owner::Include(index));
            add(&mut service.ignore.iter(), Owner::Ignore(index));
        }
        add(&mut catalog.settings().deploy_all().iter(), Owner::DeployAll);
        Self { set: builder.build().unwrap(), owners, services: catalog.services().len() }
    }

    /// Per service, in the catalog's order, the paths that deploy it, in the order given.
    fn plan<'a>(&self, paths: &[&'a str]) -> Vec<Vec<&'a str>> {
        let mut reasons = vec![Vec::new(); self.services];
        // Per service, whether the path matched an include glob and an ignore glob; reset after
        // each path for the services it touched only, so a path costs what it matched.
        let (mut included, mut ignored) = (vec![false; self.services], vec![false; self.services]);
        let (mut matched, mut touched) = (Vec::new(), Vec::new());
        for &path in paths {
            self.set.matches_into(path, &mut matched);
            let mut deploy_all = false;
            for &glob in &matched {
                let (service, ignore) = match self.owners[glob] {
                    Owner::Include(service) => (service, false),
                    Owner::Ignore(service) => (service, true),
                    Owner::DeployAll => {
                        deploy_all = true;
                        continue;
                    }
                };
                if !included[service] && !ignored[service] {
                    touched.push(service);
                }
                if ignore {
                    ignored[service] = true;
                } else {
                    included[service] = true;
                }
            }
            if deploy_all {
                for (service, reasons) in reasons.iter_mut().enumerate() {
                    if !ignored[service] {
                        reasons.push(path);
                    }
                }
            } else {
                for &service in &touched {
                    if included[service] && !ignored[service] {
                        reasons[service].push(path);
                    }
                }
            }
            for service in touched.drain(..) {
                included[service] = false;
                ignored[service] = false;
            }
        }
        reasons
    }
}

/// A plan as the baselines give it: the reasons of each service of the catalog, in its order.
fn by_service<'a>(catalog: &'a Catalog, changes: &'a [Change]) -> Vec<Vec<&'a str>> {
    let mut planned = vec![Vec::new(); catalog.services().len()];
    for service in catalog.plan(changes).services {
        let index = catalog.services().iter().position(|s| s.name == service.service.name).unwrap();
        planned[index] = service.reasons;
    }
    planned
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
        let one_globset = OneGlobSet::new(&catalog);

        // The naive loop costs the same for every path (it asks every glob of every service), and
        // all N paths would take minutes a run: it is timed on every (N/1,000)th path, and the
        // summary compares time per path (criterion reports both as paths per second).
        let stride = (sorted.len() / 1_000).max(1);
        let sample: Vec<&str> = sorted.iter().copied().step_by(stride).collect();

        // Every side must plan the same before their times mean anything.
        let sample_changes: Vec<Change> = sample.iter().map(|path| Change::Modified((*path).to_owned())).collect();
        assert_eq!(
            by_service(&catalog, &sample_changes),
            naive.plan(&sample),
            "the planner and the naive baseline disagree on {label}"
        );
        assert_eq!(
            by_service(&catalog, &changes),
            one_globset.plan(&sorted),
            "the planner and the one-GlobSet baseline disagree on {label}"
        );
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
        group.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(10));
        // The one-GlobSet baseline's cost depends on the path (a Markdown path asks every
        // service's `**/*.md`), so it is timed on all N paths.
        group.bench_function("one_globset", |b| b.iter(|| black_box(one_globset.plan(black_box(&sorted)))));
        group.throughput(Throughput::Elements(sample.len() as u64));
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
