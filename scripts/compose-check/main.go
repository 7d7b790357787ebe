// compose-check loads a compose file with compose-go, the loader `docker compose` itself uses (same
// option order as docker/compose's toProjectOptions: OS env, --env-file / .env, interpolation,
// validation against the compose-spec JSON schema, normalization, consistency: unknown services in
// depends_on, unknown volumes/networks, dependency cycles), then checks flask-eval's own rules:
//
//   - every service has a healthcheck, unless it is a one-shot (another service waits for it with
//     condition service_completed_successfully, or it is labelled flask-eval.one-shot: "true");
//   - long-lived services have a restart policy (restart: always|unless-stopped|on-failure, or
//     deploy.restart_policy); one-shots are never restarted forever;
//   - depends_on waits for service_healthy when the dependency has a healthcheck, and for
//     service_completed_successfully when it is a one-shot;
//   - no API key is written into the file or an image: every *_API_KEY in environment or build args is
//     absent or a bare ${VAR} interpolation with an empty default; no Dockerfile of the project
//     sets one with ENV or ARG; a key is not both in environment and in an env_file (environment
//     wins, even when empty, and the file's key is silently lost);
//   - the results (FLASK_STATE_DIR / FLASK_DB) live on a bind mount, so the host sees them; exactly
//     one long-lived service (the store) has them, and it is never scaled past one replica (one
//     DuckDB owner; one-shot tools such as the CLI reach it through its socket there);
//   - published ports name the host address they bind (no silent 0.0.0.0).
//
// Usage: compose-check [-f docker-compose.yml] [--project-directory DIR] [--env-file FILE] [--print | --json]
// Exit 0: loads and passes; 1: loads but breaks a rule (each violation printed); 2: does not load.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var files, envFiles stringList
	projectDir := flag.String("project-directory", "", "project directory (default: the first file's folder)")
	printModel := flag.Bool("print", false, "print the loaded model as `docker compose config` would")
	printJSON := flag.Bool("json", false, "print the loaded model as JSON (`docker compose config --format json`), for tools")
	flag.Var(&files, "f", "compose file (repeatable; default docker-compose.yml / compose.yaml discovery)")
	flag.Var(&envFiles, "env-file", "env file for interpolation (repeatable; default .env in the project directory)")
	flag.Parse()

	project, err := load(files, envFiles, *projectDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: does not load: %v\n", err)
		os.Exit(2)
	}
	if *printModel {
		out, err := project.MarshalYAML()
		if err != nil {
			fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
			os.Exit(2)
		}
		os.Stdout.Write(out)
	}
	if *printJSON {
		out, err := project.MarshalJSON()
		if err != nil {
			fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
			os.Exit(2)
		}
		os.Stdout.Write(append(out, '\n'))
	}
	raw, err := rawServices(project.ComposeFiles)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
		os.Exit(2)
	}
	problems := check(project, raw)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "compose-check: %s\n", p)
		}
		fmt.Fprintf(os.Stderr, "compose-check: %s: %d problem(s)\n", strings.Join(project.ComposeFiles, ", "), len(problems))
		os.Exit(1)
	}
	if *printJSON {
		return // stdout is the model alone
	}
	fmt.Printf("compose-check: %s loads (compose-go) and passes: %s\n", strings.Join(project.ComposeFiles, ", "), summary(project))
}

// load follows docker/compose's toProjectOptions, with every profile enabled so that services behind
// a profile (run on demand) are checked too.
func load(files, envFiles []string, projectDir string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(projectDir),
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithProfiles([]string{"*"}),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

// rawService is what the file says before interpolation: the only place where a literal key and a
// ${VAR} can be told apart.
type rawService struct {
	Environment map[string]string
	BuildArgs   map[string]string
}

func rawServices(files []string) (map[string]rawService, error) {
	out := map[string]rawService{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Services map[string]struct {
				Environment any `yaml:"environment"`
				Build       any `yaml:"build"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for name, s := range doc.Services {
			r := out[name]
			r.Environment = merge(r.Environment, mapping(s.Environment))
			if b, ok := s.Build.(map[string]any); ok {
				r.BuildArgs = merge(r.BuildArgs, mapping(b["args"]))
			}
			out[name] = r
		}
	}
	return out, nil
}

// mapping reads compose's two spellings of a mapping: {K: V} and [K=V, K]. A key without a value is
// recorded with the value "\x00" (passed through from the environment).
func mapping(v any) map[string]string {
	m := map[string]string{}
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if val == nil {
				m[k] = "\x00"
			} else {
				m[k] = fmt.Sprint(val)
			}
		}
	case []any:
		for _, item := range t {
			s := fmt.Sprint(item)
			if k, val, ok := strings.Cut(s, "="); ok {
				m[k] = val
			} else {
				m[s] = "\x00"
			}
		}
	}
	return m
}

func merge(a, b map[string]string) map[string]string {
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range b {
		a[k] = v
	}
	return a
}

var (
	apiKeyName = regexp.MustCompile(`(?i)_API_KEY$`)
	// ${VAR}, ${VAR:-}, ${VAR-}, ${VAR:?message}, ${VAR?message}: the value comes from the environment.
	bareInterpolation = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?-|:?\?[^}]*)?\}$`)
	dockerfileKey     = regexp.MustCompile(`(?i)^\s*(ENV|ARG)\s+.*_API_KEY\s*[= ]\s*\S`)
)

func check(p *types.Project, raw map[string]rawService) []string {
	var problems []string
	bad := func(service, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("service %q: %s", service, fmt.Sprintf(format, args...)))
	}
	oneShot := oneShots(p)
	names := sortedServiceNames(p)
	storeServices := []string{}

	for _, name := range names {
		s := p.Services[name]
		healthy := s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0 && s.HealthCheck.Test[0] != "NONE"
		restart := restartPolicy(s)
		if oneShot[name] {
			if restart == "always" || restart == "unless-stopped" || restart == "any" {
				bad(name, "is a one-shot but restart is %q: it would run again and again", restart)
			}
		} else {
			if !healthy {
				bad(name, "has no healthcheck (a long-lived service needs one; a one-shot is waited for with condition service_completed_successfully or labelled flask-eval.one-shot: \"true\")")
			}
			if restart == "" || restart == "no" || restart == "none" {
				bad(name, "is long-lived but has no restart policy (restart: unless-stopped)")
			}
		}

		for dep, d := range s.DependsOn {
			ds, ok := p.Services[dep]
			if !ok {
				continue // compose-go's consistency check reports unknown services
			}
			depHealthy := ds.HealthCheck != nil && !ds.HealthCheck.Disable && len(ds.HealthCheck.Test) > 0 && ds.HealthCheck.Test[0] != "NONE"
			switch {
			case oneShot[dep] && d.Condition != types.ServiceConditionCompletedSuccessfully:
				bad(name, "depends_on %q (a one-shot) with condition %s; use service_completed_successfully", dep, d.Condition)
			case !oneShot[dep] && depHealthy && d.Condition != types.ServiceConditionHealthy:
				bad(name, "depends_on %q with condition %s; %q has a healthcheck: use service_healthy", dep, d.Condition, dep)
			}
		}

		r := raw[name]
		for k, v := range r.Environment {
			if apiKeyName.MatchString(k) && v != "\x00" && !bareInterpolation.MatchString(v) {
				bad(name, "environment %s has a value written in the file (%s); pass it with ${%s} or an env_file", k, redact(v), k)
			}
			// environment wins over env_file, even with an empty ${VAR:-} or a bare name: the key in
			// the file would never reach the container.
			if apiKeyName.MatchString(k) && len(s.EnvFiles) > 0 {
				bad(name, "sets %s in environment and also reads env_file: environment overrides the file, so its %s is lost; use one of the two", k, k)
			}
		}
		for k, v := range r.BuildArgs {
			if apiKeyName.MatchString(k) {
				bad(name, "build arg %s would bake a key into the image; keys belong in the runtime environment only", k)
			}
			_ = v
		}
		if s.Build != nil {
			problems = append(problems, dockerfileKeys(name, s.Build)...)
		}

		if dir := resultsDir(s); dir != "" {
			if !oneShot[name] {
				storeServices = append(storeServices, name)
			}
			if !onBindMount(s, dir) {
				bad(name, "keeps its results in %s, which is not on a bind mount: the host would not see them (volumes: [./results:%s])", dir, dir)
			}
			if replicas(s) > 1 {
				bad(name, "owns the results file but runs %d replicas: exactly one process may own a DuckDB file", replicas(s))
			}
		}

		for _, port := range s.Ports {
			if port.Published != "" && port.HostIP == "" {
				bad(name, "publishes port %s on every interface; name the address (\"${FLASK_PUBLISH_IP:-127.0.0.1}:%s:%d\")", port.Published, port.Published, port.Target)
			}
		}
	}
	if len(storeServices) != 1 {
		problems = append(problems, fmt.Sprintf("exactly one long-lived service must own the results (FLASK_STATE_DIR or FLASK_DB), found %d: %v", len(storeServices), storeServices))
	}
	return problems
}

// oneShots: services someone waits for to complete, and services labelled as one-shots (tools run
// with `docker compose run --rm`).
func oneShots(p *types.Project) map[string]bool {
	out := map[string]bool{}
	for _, s := range p.Services {
		if s.Labels["flask-eval.one-shot"] == "true" {
			out[s.Name] = true
		}
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionCompletedSuccessfully {
				out[dep] = true
			}
		}
	}
	return out
}

func restartPolicy(s types.ServiceConfig) string {
	if s.Restart != "" {
		return s.Restart
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		return s.Deploy.RestartPolicy.Condition
	}
	return ""
}

func replicas(s types.ServiceConfig) int {
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		return *s.Deploy.Replicas
	}
	if s.Scale != nil {
		return *s.Scale
	}
	return 1
}

// resultsDir: where a service keeps the DuckDB file, from FLASK_DB or FLASK_STATE_DIR.
func resultsDir(s types.ServiceConfig) string {
	if v := s.Environment["FLASK_DB"]; v != nil && *v != "" {
		return filepath.Dir(*v)
	}
	if v := s.Environment["FLASK_STATE_DIR"]; v != nil && *v != "" {
		return filepath.Clean(*v)
	}
	return ""
}

func onBindMount(s types.ServiceConfig, dir string) bool {
	for _, v := range s.Volumes {
		t := filepath.Clean(v.Target)
		if v.Type == types.VolumeTypeBind && !v.ReadOnly && (dir == t || strings.HasPrefix(dir, t+"/")) {
			return true
		}
	}
	return false
}

func dockerfileKeys(service string, b *types.BuildConfig) []string {
	if b.DockerfileInline != "" {
		return scanDockerfile(service, "dockerfile_inline", strings.NewReader(b.DockerfileInline))
	}
	name := b.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(b.Context, name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil // a remote context or a missing file: compose reports that at build time
	}
	defer f.Close()
	return scanDockerfile(service, name, f)
}

func scanDockerfile(service, name string, r interface{ Read([]byte) (int, error) }) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		if dockerfileKey.MatchString(sc.Text()) {
			out = append(out, fmt.Sprintf("service %q: %s:%d sets an API key in the image: %s", service, name, n, redact(strings.TrimSpace(sc.Text()))))
		}
	}
	return out
}

func redact(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	return s[:4] + "****"
}

func sortedServiceNames(p *types.Project) []string {
	names := make([]string, 0, len(p.Services))
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func summary(p *types.Project) string {
	oneShot := oneShots(p)
	parts := []string{}
	for _, n := range sortedServiceNames(p) {
		s := p.Services[n]
		kind := "long-lived"
		if oneShot[n] {
			kind = "one-shot"
		}
		parts = append(parts, fmt.Sprintf("%s (%s, replicas %d)", n, kind, replicas(s)))
	}
	return strings.Join(parts, ", ")
}
