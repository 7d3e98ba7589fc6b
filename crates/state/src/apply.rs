//! How each [`Command`] changes the tables. Pure and deterministic: the index and every
//! timestamp come from the caller or the command.

use std::collections::BTreeSet;
use std::sync::Arc;

use drover_api::{
    ALLOC_CLIENT_LOST, ALLOC_CLIENT_PENDING, ALLOC_DESIRED_STOP, Allocation, Evaluation,
    JOB_STATUS_DEAD, JOB_STATUS_PENDING, JOB_STATUS_RUNNING, Job, NODE_STATUS_DOWN, NodeEvent,
};

use crate::command::Command;
use crate::store::Table;
use crate::tables::{JOB_VERSIONS_KEPT, JobKey, Tables};

impl Tables {
    /// Applies one committed command at `index`.
    pub fn apply(&mut self, index: u64, command: &Command) {
        self.index = index;
        let mut touched_jobs: BTreeSet<JobKey> = BTreeSet::new();
        match command {
            Command::JobRegister { job, eval, now } => {
                let key = (job.namespace.clone(), job.id.clone());
                self.register_job(index, job, *now);
                if let Some(eval) = eval {
                    self.upsert_eval(index, eval);
                }
                touched_jobs.insert(key);
            }
            Command::JobDeregister {
                namespace,
                job_id,
                purge,
                eval,
                now,
            } => {
                let key = (namespace.clone(), job_id.clone());
                if *purge {
                    self.purge_job(&key);
                } else if let Some(job) = self.jobs.get(&key).cloned() {
                    let mut job = (*job).clone();
                    // Stopping makes a new version, as in Nomad: the running spec stays in
                    // the history.
                    job.version += 1;
                    job.stop = true;
                    job.modify_index = index;
                    job.job_modify_index = index;
                    job.submit_time = *now;
                    self.store_job_version(index, job);
                }
                if let Some(eval) = eval {
                    self.upsert_eval(index, eval);
                }
                self.touch(Table::Jobs, index);
                touched_jobs.insert(key);
            }
            Command::EvalUpsert { evals } => {
                self.upsert_evals(index, evals, &mut touched_jobs);
            }
            Command::ApplyPlan {
                allocs,
                stopped,
                evals,
                now,
            } => {
                for alloc in stopped {
                    self.stop_alloc_from_plan(index, alloc, *now);
                    touched_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                }
                for alloc in allocs {
                    self.upsert_alloc_from_plan(index, alloc, *now);
                    touched_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                }
                self.upsert_evals(index, evals, &mut touched_jobs);
            }
            Command::NodeRegister { node, now } => {
                let mut node = (**node).clone();
                match self.nodes.get(&node.id) {
                    Some(old) => {
                        node.create_index = old.create_index;
                        node.events = old.events.clone();
                        if old.status != node.status {
                            node.status_updated_at = now / 1_000_000_000;
                            push_node_event(&mut node, index, *now, "Node re-registered");
                        }
                    }
                    None => {
                        node.create_index = index;
                        node.status_updated_at = now / 1_000_000_000;
                        push_node_event(&mut node, index, *now, "Node registered");
                    }
                }
                node.modify_index = index;
                self.nodes.insert(node.id.clone(), Arc::new(node));
                self.touch(Table::Nodes, index);
            }
            Command::NodeStatus {
                node_id,
                status,
                evals,
                now,
            } => {
                if let Some(old) = self.nodes.get(node_id) {
                    let mut node = (**old).clone();
                    if node.status != *status {
                        node.status = status.clone();
                        node.status_updated_at = now / 1_000_000_000;
                        let msg = if status == NODE_STATUS_DOWN {
                            "Node heartbeat missed"
                        } else {
                            "Node heartbeat received"
                        };
                        push_node_event(&mut node, index, *now, msg);
                    }
                    node.modify_index = index;
                    self.nodes.insert(node_id.clone(), Arc::new(node));
                    self.touch(Table::Nodes, index);
                }
                self.upsert_evals(index, evals, &mut touched_jobs);
            }
            Command::AllocClientUpdate {
                updates,
                evals,
                now,
            } => {
                for update in updates {
                    let Some(old) = self.allocs.get(&update.id) else {
                        continue;
                    };
                    // A lost allocation stays lost whatever a late client says.
                    if old.client_status == ALLOC_CLIENT_LOST {
                        continue;
                    }
                    // A repeated report changes nothing, not even ModifyTime (reschedule
                    // delays count from it).
                    if old.client_status == update.client_status
                        && old.client_description == update.client_description
                        && old.task_states == update.task_states
                    {
                        continue;
                    }
                    let mut alloc = (**old).clone();
                    alloc.client_status = update.client_status.clone();
                    alloc.client_description = update.client_description.clone();
                    alloc.task_states = update.task_states.clone();
                    alloc.modify_index = index;
                    alloc.modify_time = *now;
                    touched_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                    self.allocs.insert(alloc.id.clone(), Arc::new(alloc));
                    self.touch(Table::Allocs, index);
                }
                self.upsert_evals(index, evals, &mut touched_jobs);
            }
            Command::Collect {
                alloc_ids,
                eval_ids,
                jobs,
            } => {
                self.collect(index, alloc_ids, eval_ids, jobs);
            }
            Command::AllocStop {
                alloc_ids,
                description,
                evals,
                now,
            } => {
                for id in alloc_ids {
                    let Some(old) = self.allocs.get(id) else {
                        continue;
                    };
                    let mut alloc = (**old).clone();
                    alloc.desired_status = ALLOC_DESIRED_STOP.to_string();
                    alloc.desired_description = description.clone();
                    alloc.desired_transition.migrate = Some(true);
                    alloc.modify_index = index;
                    alloc.alloc_modify_index = index;
                    alloc.modify_time = *now;
                    touched_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                    self.allocs.insert(alloc.id.clone(), Arc::new(alloc));
                    self.touch(Table::Allocs, index);
                }
                self.upsert_evals(index, evals, &mut touched_jobs);
            }
            Command::RootKeyUpsert {
                key,
                retire_to,
                deprecate_older,
                now,
            } => self.upsert_root_key(index, key, retire_to, *deprecate_older, *now),
            Command::RootKeyState {
                key_ids,
                state,
                now,
            } => self.set_root_key_state(index, key_ids, state, *now),
            Command::RootKeyDelete { key_ids } => self.delete_root_keys(index, key_ids),
            Command::AclBootstrap { token } => self.acl_bootstrap(index, token),
            Command::AclTokenUpsert { tokens } => self.upsert_acl_tokens(index, tokens),
            Command::AclTokenDelete { accessor_ids } => self.delete_acl_tokens(index, accessor_ids),
            Command::AclPolicyUpsert { policies } => self.upsert_acl_policies(index, policies),
            Command::AclPolicyDelete { names } => self.delete_acl_policies(index, names),
            Command::AclRoleUpsert { roles } => self.upsert_acl_roles(index, roles),
            Command::AclRoleDelete { ids } => self.delete_acl_roles(index, ids),
            Command::ServiceUpsert { services } => self.upsert_services(index, services),
            Command::ServiceDelete { ids } => self.delete_services(index, ids),
            Command::VariableUpsert {
                var,
                cas,
                now,
                keep_sealed,
            } => self.upsert_variable(index, var, *cas, *now, *keep_sealed),
            Command::VariableDelete {
                namespace,
                path,
                cas,
            } => self.delete_variable(index, namespace, path, *cas),
            Command::VariableRekey { vars } => self.rekey_variables(index, vars),
        }
        for key in touched_jobs {
            self.refresh_job_status(index, &key);
        }
        self.prune_services_after(index, command);
    }

    pub(crate) fn touch(&mut self, table: Table, index: u64) {
        let slot = table as usize;
        if self.table_index.len() <= slot {
            self.table_index.resize(slot + 1, 0);
        }
        self.table_index[slot] = index;
    }

    fn register_job(&mut self, index: u64, job: &Job, now: i64) {
        let key = (job.namespace.clone(), job.id.clone());
        let mut job = job.clone();
        job.modify_index = index;
        job.submit_time = now;
        job.status = JOB_STATUS_PENDING.to_string();
        match self.jobs.get(&key) {
            Some(old) => {
                job.create_index = old.create_index;
                if same_spec(old, &job) {
                    job.version = old.version;
                    job.job_modify_index = old.job_modify_index;
                    job.stable = old.stable;
                } else {
                    job.version = old.version + 1;
                    job.job_modify_index = index;
                }
            }
            None => {
                job.create_index = index;
                job.job_modify_index = index;
                job.version = 0;
            }
        }
        self.store_job_version(index, job);
    }

    fn store_job_version(&mut self, index: u64, job: Job) {
        let key = (job.namespace.clone(), job.id.clone());
        let job = Arc::new(job);
        let versions = self.job_versions.entry(key.clone()).or_default();
        versions.retain(|v| v.version != job.version);
        versions.insert(0, job.clone());
        versions.truncate(JOB_VERSIONS_KEPT);
        self.jobs.insert(key, job);
        self.touch(Table::Jobs, index);
    }

    fn collect(
        &mut self,
        index: u64,
        alloc_ids: &[String],
        eval_ids: &[String],
        jobs: &[(String, String)],
    ) {
        for id in alloc_ids {
            let Some(alloc) = self.allocs.remove(id) else {
                continue;
            };
            let key = (alloc.namespace.clone(), alloc.job_id.clone());
            if let Some(set) = self.allocs_by_job.get_mut(&key) {
                set.remove(id);
            }
            if let Some(set) = self.allocs_by_node.get_mut(&alloc.node_id) {
                set.remove(id);
            }
            self.node_collect_index.insert(alloc.node_id.clone(), index);
            self.touch(Table::Allocs, index);
        }
        for id in eval_ids {
            let Some(eval) = self.evals.remove(id) else {
                continue;
            };
            if let Some(set) = self
                .evals_by_job
                .get_mut(&(eval.namespace.clone(), eval.job_id.clone()))
            {
                set.remove(id);
            }
            self.touch(Table::Evals, index);
        }
        for key in jobs {
            if self.jobs.contains_key(key) {
                self.purge_job(key);
                self.touch(Table::Jobs, index);
            }
        }
    }

    /// Forgets a job and its versions. Its allocations and evaluations stay until they are
    /// stopped and collected, so clients still learn that they must stop.
    fn purge_job(&mut self, key: &JobKey) {
        self.jobs.remove(key);
        self.job_versions.remove(key);
    }

    /// Stores evaluations and notes their jobs, whose status may change.
    fn upsert_evals(
        &mut self,
        index: u64,
        evals: &[Evaluation],
        touched_jobs: &mut BTreeSet<JobKey>,
    ) {
        for eval in evals {
            self.upsert_eval(index, eval);
            touched_jobs.insert((eval.namespace.clone(), eval.job_id.clone()));
        }
    }

    fn upsert_eval(&mut self, index: u64, eval: &Evaluation) {
        let mut eval = eval.clone();
        match self.evals.get(&eval.id) {
            Some(old) => eval.create_index = old.create_index,
            None => eval.create_index = index,
        }
        eval.modify_index = index;
        self.evals_by_job
            .entry((eval.namespace.clone(), eval.job_id.clone()))
            .or_default()
            .insert(eval.id.clone());
        self.evals.insert(eval.id.clone(), Arc::new(eval));
        self.touch(Table::Evals, index);
    }

    fn upsert_alloc_from_plan(&mut self, index: u64, alloc: &Allocation, now: i64) {
        let mut alloc = alloc.clone();
        match self.allocs.get(&alloc.id) {
            Some(old) => {
                alloc.create_index = old.create_index;
                alloc.create_time = old.create_time;
                // A finished allocation's ModifyTime is when it finished: reschedule delays
                // count from it, so annotating it (e.g. with a follow-up eval) keeps it.
                if old.client_terminal() {
                    alloc.modify_time = old.modify_time;
                }
                alloc.client_status = old.client_status.clone();
                alloc.client_description = old.client_description.clone();
                alloc.task_states = old.task_states.clone();
                // A plan made before an operator stopped the allocation must not revive it.
                if old.server_terminal() {
                    alloc.desired_status = old.desired_status.clone();
                    alloc.desired_description = old.desired_description.clone();
                }
            }
            None => {
                alloc.create_index = index;
                if alloc.client_status.is_empty() {
                    alloc.client_status = ALLOC_CLIENT_PENDING.to_string();
                }
            }
        }
        alloc.modify_index = index;
        alloc.alloc_modify_index = index;
        if !self
            .allocs
            .get(&alloc.id)
            .is_some_and(|old| old.client_terminal())
        {
            alloc.modify_time = now;
        }
        if let Some(prev) = self.allocs.get(&alloc.previous_allocation) {
            let mut prev = (**prev).clone();
            prev.next_allocation = alloc.id.clone();
            prev.modify_index = index;
            prev.alloc_modify_index = index;
            self.allocs.insert(prev.id.clone(), Arc::new(prev));
        }
        self.index_alloc(&alloc);
        self.allocs.insert(alloc.id.clone(), Arc::new(alloc));
        self.touch(Table::Allocs, index);
    }

    fn stop_alloc_from_plan(&mut self, index: u64, update: &Allocation, now: i64) {
        let Some(old) = self.allocs.get(&update.id) else {
            return;
        };
        let mut alloc = (**old).clone();
        alloc.desired_status = update.desired_status.clone();
        alloc.desired_description = update.desired_description.clone();
        if update.client_status == ALLOC_CLIENT_LOST {
            alloc.client_status = ALLOC_CLIENT_LOST.to_string();
            alloc.client_description = update.client_description.clone();
        }
        if !update.followup_eval_id.is_empty() {
            alloc.followup_eval_id = update.followup_eval_id.clone();
        }
        if !update.next_allocation.is_empty() {
            alloc.next_allocation = update.next_allocation.clone();
        }
        alloc.modify_index = index;
        alloc.alloc_modify_index = index;
        alloc.modify_time = now;
        self.allocs.insert(alloc.id.clone(), Arc::new(alloc));
        self.touch(Table::Allocs, index);
    }

    /// Nomad's job status: running while any allocation is not terminal; otherwise pending
    /// while any evaluation is not terminal; otherwise dead once anything was scheduled or the
    /// job was stopped; pending before that.
    fn refresh_job_status(&mut self, index: u64, key: &JobKey) {
        let Some(job) = self.jobs.get(key).cloned() else {
            return;
        };
        let allocs = self.allocs_by_job(&key.0, &key.1);
        let evals = self.evals_by_job(&key.0, &key.1);
        let status = if allocs.iter().any(|a| !a.terminal()) {
            JOB_STATUS_RUNNING
        } else if evals.iter().any(|e| !e.terminal()) {
            JOB_STATUS_PENDING
        } else if !allocs.is_empty() || !evals.is_empty() || job.stop {
            JOB_STATUS_DEAD
        } else {
            JOB_STATUS_PENDING
        };
        if job.status != status {
            let mut job = (*job).clone();
            job.status = status.to_string();
            job.modify_index = index;
            let job = Arc::new(job);
            if let Some(first) = self
                .job_versions
                .get_mut(key)
                .and_then(|v| v.first_mut())
                .filter(|first| first.version == job.version)
            {
                *first = job.clone();
            }
            self.jobs.insert(key.clone(), job);
            self.touch(Table::Jobs, index);
        }
    }
}

fn push_node_event(node: &mut drover_api::Node, index: u64, now: i64, message: &str) {
    node.events.push(NodeEvent {
        message: message.to_string(),
        subsystem: "Cluster".to_string(),
        details: Default::default(),
        timestamp: drover_api::time::rfc3339(now),
        create_index: index,
    });
    if node.events.len() > 10 {
        node.events.remove(0);
    }
}

/// True when two versions of a job describe the same work (bookkeeping fields ignored).
fn same_spec(a: &Job, b: &Job) -> bool {
    let strip = |j: &Job| Job {
        status: String::new(),
        status_description: String::new(),
        stable: false,
        version: 0,
        submit_time: 0,
        create_index: 0,
        modify_index: 0,
        job_modify_index: 0,
        ..j.clone()
    };
    strip(a) == strip(b)
}
