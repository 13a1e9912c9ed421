// Deciders belong to the domain, which imports nothing of core; core runs them.
export { fold, type Decider, type DomainEvent } from '../domain/decider';
