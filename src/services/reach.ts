import type { ProjectQueries } from "../db/projects.js";
import type { ProjectPlaceRow, Scope } from "../db/rows.js";
import { ErrorCode, HandledError } from "../errors.js";
import { type Bounds, overlap } from "../results/bounds.js";
import { ANYWHERE, type HandlerRegistry, type Place, type Reach } from "../results/handler-registry.js";
import { HANDLER_TYPES, type HandlerType } from "../results/handler-spec.js";

/** A project's places, as the CLI lists them. */
export interface ProjectPlaces {
  project: string;
  places: string[];
}

export interface ReachServiceDeps {
  projects: ProjectQueries;
  registry: HandlerRegistry;
  /** How long the places read are used before they are read again, in milliseconds. */
  cacheMs: number;
  now?: () => number;
}

/** The places of every project, read at once, with each project's reach worked out when asked. */
interface Snapshot {
  readAt: number;
  places: readonly { projectId: string; type: HandlerType; location: string }[];
  reaches: Map<string, Reach>;
}

/**
 * Where each project's handlers may go. A project given places (directories, buckets, bucket
 * prefixes) is held within them, in every handler type; every project is kept out of the other
 * projects' places. Places are read at most once every `cacheMs` (a change reaches every replica
 * within that time), and the reach of a project is worked out once per read.
 */
export class ReachService {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: ReachServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Where the callers of a project may reach; at once when the places read are recent enough. */
  of(scope: Scope): Reach | Promise<Reach> {
    const snapshot = this.snapshot;
    if (snapshot && this.now() - snapshot.readAt < this.deps.cacheMs) return reachIn(snapshot, scope.projectId);
    return this.load().then((loaded) => reachIn(loaded, scope.projectId));
  }

  /**
   * Gives a project (made if new) exactly `places`; none gives it back whatever the server allows.
   * Throws BAD_USER_INPUT for something that is not a place, or a place another project's
   * overlaps; HANDLE_OUT_OF_BOUNDS for one the server may not reach.
   */
  async set(projectName: string, places: readonly string[]): Promise<void> {
    const located: Place[] = [];
    for (const place of places) {
      const found = await this.deps.registry.locatePlace(place);
      await this.deps.registry.checkReach(found.spec);
      const twice = located.find((other) => other.type === found.type && overlap(other.location, found.location));
      if (twice) {
        throw new HandledError(ErrorCode.BAD_USER_INPUT, `The places "${place}" and "${twice.location}" overlap.`);
      }
      located.push(found);
    }
    const projectId = await this.deps.projects.ensure(projectName);
    await this.deps.projects.setPlaces(
      projectId,
      located.map((place, i) => ({ handlerType: place.type, place: places[i]! })),
      async (others) => {
        for (const other of await this.locate(others)) {
          const clash = located.find((mine) => mine.type === other.type && overlap(mine.location, other.location));
          if (clash) {
            throw new HandledError(
              ErrorCode.BAD_USER_INPUT,
              `"${clash.location}" overlaps "${other.location}", a place of another project: a place belongs to one project.`,
            );
          }
        }
      },
    );
    this.snapshot = undefined;
  }

  /** Every project that has places, with them, by project name. */
  async list(): Promise<ProjectPlaces[]> {
    const byProject = new Map<string, string[]>();
    for (const row of await this.deps.projects.places()) {
      const places = byProject.get(row.project.name) ?? [];
      places.push(row.place);
      byProject.set(row.project.name, places);
    }
    return [...byProject].sort(([a], [b]) => a.localeCompare(b)).map(([project, places]) => ({ project, places }));
  }

  private load(): Promise<Snapshot> {
    this.loading ??= (async () => {
      try {
        const readAt = this.now();
        const places = await this.locate(await this.deps.projects.places());
        const snapshot = { readAt, places, reaches: new Map<string, Reach>() };
        this.snapshot = snapshot;
        return snapshot;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** Where stored places are now (a directory's real path can change). */
  private async locate(rows: readonly ProjectPlaceRow[]) {
    return Promise.all(
      rows.map(async (row) => {
        // A place stored is one that parsed when it was given; should it no longer, it still
        // keeps other projects out, as written.
        const location = await this.deps.registry.locatePlace(row.place).then(
          (place) => place.location,
          () => row.place,
        );
        return { projectId: row.projectId, type: row.handlerType, location };
      }),
    );
  }
}

/** The reach of a project in a snapshot of every project's places. */
function reachIn(snapshot: Snapshot, projectId: string): Reach {
  // What every caller has while no project has places.
  if (snapshot.places.length === 0) return ANYWHERE;
  let reach = snapshot.reaches.get(projectId);
  if (reach) return reach;
  const held = snapshot.places.some((place) => place.projectId === projectId);
  const bounds: Partial<Record<HandlerType, Bounds>> = {};
  for (const type of HANDLER_TYPES) {
    const ofType = snapshot.places.filter((place) => place.type === type);
    const outside = ofType.filter((place) => place.projectId !== projectId).map((place) => place.location);
    const within = ofType.filter((place) => place.projectId === projectId).map((place) => place.location);
    if (held) bounds[type] = { within, outside };
    else if (outside.length > 0) bounds[type] = { outside };
  }
  reach = Object.freeze(bounds);
  snapshot.reaches.set(projectId, reach);
  return reach;
}
