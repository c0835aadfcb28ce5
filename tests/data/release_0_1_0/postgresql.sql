--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: audit_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alarms; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alarms (
    id integer NOT NULL,
    session_id integer NOT NULL,
    vital character varying(8) NOT NULL,
    kind character varying(12) NOT NULL,
    direction character varying(10) NOT NULL,
    source character varying(100) NOT NULL,
    onset_us bigint NOT NULL,
    announced_us bigint NOT NULL,
    end_us bigint,
    priority character varying(8) NOT NULL,
    peak double precision NOT NULL,
    limit_value double precision NOT NULL,
    value double precision NOT NULL,
    reached_us bigint,
    baseline double precision,
    acked_us bigint,
    acked_session_us bigint,
    acked_by character varying(100),
    rev integer NOT NULL
);


--
-- Name: alarms_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.alarms_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: alarms_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.alarms_id_seq OWNED BY public.alarms.id;


--
-- Name: audit; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit (
    id integer NOT NULL,
    session_id integer,
    at_us bigint NOT NULL,
    session_us bigint,
    who character varying(100) NOT NULL,
    action character varying(40) NOT NULL,
    target character varying(200) NOT NULL,
    old text NOT NULL,
    new text NOT NULL,
    reason text
);


--
-- Name: audit_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.audit_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: audit_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.audit_id_seq OWNED BY public.audit.id;


--
-- Name: beds; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.beds (
    id character varying(50) NOT NULL,
    label character varying(100) NOT NULL,
    session_type character varying(20) NOT NULL,
    limits_preset character varying(40),
    limits text,
    origin text DEFAULT ''::text NOT NULL,
    created_us bigint NOT NULL
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id integer NOT NULL,
    session_id integer NOT NULL,
    t_us bigint NOT NULL,
    kind character varying(40) NOT NULL,
    text text NOT NULL,
    source character varying(100) NOT NULL,
    entered_by character varying(100),
    struck_us bigint,
    struck_by character varying(100),
    struck_reason text,
    corrects integer
);


--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.events_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: events_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.events_id_seq OWNED BY public.events.id;


--
-- Name: limits; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.limits (
    id integer NOT NULL,
    session_id integer NOT NULL,
    version integer NOT NULL,
    effective_us bigint NOT NULL,
    who character varying(100) NOT NULL,
    data text NOT NULL
);


--
-- Name: limits_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.limits_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: limits_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.limits_id_seq OWNED BY public.limits.id;


--
-- Name: login_failures; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.login_failures (
    name character varying(64) NOT NULL,
    failures integer NOT NULL,
    locked_until_us bigint,
    last_us bigint NOT NULL
);


--
-- Name: logins; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.logins (
    id integer NOT NULL,
    token_hash character varying(64) NOT NULL,
    user_id integer NOT NULL,
    started_us bigint NOT NULL,
    seen_us bigint NOT NULL,
    ended_us bigint,
    ended_why character varying(20)
);


--
-- Name: logins_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.logins_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: logins_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.logins_id_seq OWNED BY public.logins.id;


--
-- Name: readings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.readings (
    id integer NOT NULL,
    session_id integer NOT NULL,
    t_us bigint NOT NULL,
    vital character varying(8) NOT NULL,
    value double precision NOT NULL,
    source character varying(100) NOT NULL,
    device_us bigint,
    measured_us bigint,
    flags character varying(200) NOT NULL
);


--
-- Name: readings_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.readings_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: readings_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.readings_id_seq OWNED BY public.readings.id;


--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id integer NOT NULL,
    name character varying(200) NOT NULL,
    kind character varying(20) NOT NULL,
    bed character varying(50) NOT NULL,
    origin text NOT NULL,
    relative_time boolean NOT NULL,
    created_us bigint NOT NULL,
    clock_pos_us bigint,
    clock_wall_us bigint,
    clock_speed double precision,
    span_start_us bigint,
    span_end_us bigint,
    epoch integer NOT NULL,
    session_type character varying(20) DEFAULT 'other'::character varying NOT NULL,
    patient_label character varying(100) DEFAULT ''::character varying NOT NULL,
    setup_by character varying(100),
    ended_us bigint,
    ended_by character varying(100),
    ready_min double precision,
    recording character varying(64),
    amendments integer DEFAULT 0 NOT NULL,
    bed_id character varying(50)
);


--
-- Name: sessions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.sessions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: sessions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.sessions_id_seq OWNED BY public.sessions.id;


--
-- Name: settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.settings (
    key character varying(50) NOT NULL,
    value text NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id integer NOT NULL,
    name character varying(64) NOT NULL,
    role character varying(20) NOT NULL,
    pw_hash character varying(200) NOT NULL,
    disabled boolean DEFAULT false NOT NULL,
    created_us bigint NOT NULL,
    created_by character varying(100) NOT NULL
);


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.users_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;


--
-- Name: alarms id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarms ALTER COLUMN id SET DEFAULT nextval('public.alarms_id_seq'::regclass);


--
-- Name: audit id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit ALTER COLUMN id SET DEFAULT nextval('public.audit_id_seq'::regclass);


--
-- Name: events id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ALTER COLUMN id SET DEFAULT nextval('public.events_id_seq'::regclass);


--
-- Name: limits id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.limits ALTER COLUMN id SET DEFAULT nextval('public.limits_id_seq'::regclass);


--
-- Name: logins id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.logins ALTER COLUMN id SET DEFAULT nextval('public.logins_id_seq'::regclass);


--
-- Name: readings id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.readings ALTER COLUMN id SET DEFAULT nextval('public.readings_id_seq'::regclass);


--
-- Name: sessions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions ALTER COLUMN id SET DEFAULT nextval('public.sessions_id_seq'::regclass);


--
-- Name: users id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);


--
-- Data for Name: alarms; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: audit; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.audit VALUES (1, 1, 1796306708282640, NULL, 'maker', 'session_start', 'small.csv', '', 'import on bed-1', NULL);
INSERT INTO public.audit VALUES (2, NULL, 1796306711908386, NULL, 'maker (command line)', 'user_add', 'ada', '', 'admin', NULL);


--
-- Data for Name: beds; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events VALUES (1, 1, 1795166100000000, 'dose_start', '', 'replay', NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.events VALUES (2, 1, 1795168500000000, 'dose_end', '', 'replay', NULL, NULL, NULL, NULL, NULL);


--
-- Data for Name: limits; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: login_failures; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: logins; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: readings; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.readings VALUES (1, 1, 1795165200000000, 'sbp', 131, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (2, 1, 1795165200000000, 'dbp', 85, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (3, 1, 1795165200000000, 'map', 100, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (4, 1, 1795165200000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (5, 1, 1795165200000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (6, 1, 1795165200000000, 'pr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (7, 1, 1795165201000000, 'hr', 74, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (8, 1, 1795165201000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (9, 1, 1795165201000000, 'pr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (10, 1, 1795165202000000, 'hr', 74, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (11, 1, 1795165202000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (12, 1, 1795165202000000, 'pr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (13, 1, 1795165203000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (14, 1, 1795165203000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (15, 1, 1795165203000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (16, 1, 1795165204000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (17, 1, 1795165204000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (18, 1, 1795165204000000, 'pr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (19, 1, 1795165205000000, 'hr', 73, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (20, 1, 1795165205000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (21, 1, 1795165205000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (22, 1, 1795165206000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (23, 1, 1795165206000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (24, 1, 1795165206000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (25, 1, 1795165207000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (26, 1, 1795165207000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (27, 1, 1795165207000000, 'pr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (28, 1, 1795165208000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (29, 1, 1795165208000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (30, 1, 1795165208000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (31, 1, 1795165209000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (32, 1, 1795165209000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (33, 1, 1795165209000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (34, 1, 1795165210000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (35, 1, 1795165210000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (36, 1, 1795165210000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (37, 1, 1795165211000000, 'hr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (38, 1, 1795165211000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (39, 1, 1795165211000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (40, 1, 1795165212000000, 'hr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (41, 1, 1795165212000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (42, 1, 1795165212000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (43, 1, 1795165213000000, 'hr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (44, 1, 1795165213000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (45, 1, 1795165213000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (46, 1, 1795165214000000, 'hr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (47, 1, 1795165214000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (48, 1, 1795165214000000, 'pr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (49, 1, 1795165215000000, 'hr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (50, 1, 1795165215000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (51, 1, 1795165215000000, 'pr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (52, 1, 1795165216000000, 'hr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (53, 1, 1795165216000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (54, 1, 1795165216000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (55, 1, 1795165217000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (56, 1, 1795165217000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (57, 1, 1795165217000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (58, 1, 1795165218000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (59, 1, 1795165218000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (60, 1, 1795165218000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (61, 1, 1795165219000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (62, 1, 1795165219000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (63, 1, 1795165219000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (64, 1, 1795165220000000, 'hr', 74, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (65, 1, 1795165220000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (66, 1, 1795165220000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (67, 1, 1795165221000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (68, 1, 1795165221000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (69, 1, 1795165221000000, 'pr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (70, 1, 1795165222000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (71, 1, 1795165222000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (72, 1, 1795165222000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (73, 1, 1795165223000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (74, 1, 1795165223000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (75, 1, 1795165223000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (76, 1, 1795165224000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (77, 1, 1795165224000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (78, 1, 1795165224000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (79, 1, 1795165225000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (80, 1, 1795165225000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (81, 1, 1795165225000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (82, 1, 1795165226000000, 'hr', 75, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (83, 1, 1795165226000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (84, 1, 1795165226000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (85, 1, 1795165227000000, 'hr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (86, 1, 1795165227000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (87, 1, 1795165227000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (88, 1, 1795165228000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (89, 1, 1795165228000000, 'spo2', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (90, 1, 1795165228000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (91, 1, 1795165229000000, 'hr', 74, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (92, 1, 1795165229000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (93, 1, 1795165229000000, 'pr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (94, 1, 1795166100000000, 'sbp', 128, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (95, 1, 1795166100000000, 'dbp', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (96, 1, 1795166100000000, 'map', 98, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (97, 1, 1795166100000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (98, 1, 1795166100000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (99, 1, 1795166100000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (100, 1, 1795166101000000, 'hr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (101, 1, 1795166101000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (102, 1, 1795166101000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (103, 1, 1795166102000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (104, 1, 1795166102000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (105, 1, 1795166102000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (106, 1, 1795166103000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (107, 1, 1795166103000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (108, 1, 1795166103000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (109, 1, 1795166104000000, 'hr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (110, 1, 1795166104000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (111, 1, 1795166104000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (112, 1, 1795166105000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (113, 1, 1795166105000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (114, 1, 1795166105000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (115, 1, 1795166106000000, 'hr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (116, 1, 1795166106000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (117, 1, 1795166106000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (118, 1, 1795166107000000, 'hr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (119, 1, 1795166107000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (120, 1, 1795166107000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (121, 1, 1795166108000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (122, 1, 1795166108000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (123, 1, 1795166108000000, 'pr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (124, 1, 1795166109000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (125, 1, 1795166109000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (126, 1, 1795166109000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (127, 1, 1795168500000000, 'sbp', 187, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (128, 1, 1795168500000000, 'dbp', 109, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (129, 1, 1795168500000000, 'map', 135, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (130, 1, 1795168500000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (131, 1, 1795168500000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (132, 1, 1795168500000000, 'pr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (133, 1, 1795168501000000, 'hr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (134, 1, 1795168501000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (135, 1, 1795168501000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (136, 1, 1795168502000000, 'hr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (137, 1, 1795168502000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (138, 1, 1795168502000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (139, 1, 1795168503000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (140, 1, 1795168503000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (141, 1, 1795168503000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (142, 1, 1795168504000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (143, 1, 1795168504000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (144, 1, 1795168504000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (145, 1, 1795168505000000, 'hr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (146, 1, 1795168505000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (147, 1, 1795168505000000, 'pr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (148, 1, 1795168506000000, 'hr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (149, 1, 1795168506000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (150, 1, 1795168506000000, 'pr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (151, 1, 1795168507000000, 'hr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (152, 1, 1795168507000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (153, 1, 1795168507000000, 'pr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (154, 1, 1795168508000000, 'hr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (155, 1, 1795168508000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (156, 1, 1795168508000000, 'pr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (157, 1, 1795168509000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (158, 1, 1795168509000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (159, 1, 1795168509000000, 'pr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (160, 1, 1795168510000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (161, 1, 1795168510000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (162, 1, 1795168510000000, 'pr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (163, 1, 1795168511000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (164, 1, 1795168511000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (165, 1, 1795168511000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (166, 1, 1795168512000000, 'hr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (167, 1, 1795168512000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (168, 1, 1795168512000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (169, 1, 1795168513000000, 'hr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (170, 1, 1795168513000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (171, 1, 1795168513000000, 'pr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (172, 1, 1795168514000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (173, 1, 1795168514000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (174, 1, 1795168514000000, 'pr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (175, 1, 1795168515000000, 'hr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (176, 1, 1795168515000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (177, 1, 1795168515000000, 'pr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (178, 1, 1795168516000000, 'hr', 84, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (179, 1, 1795168516000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (180, 1, 1795168516000000, 'pr', 83, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (181, 1, 1795168517000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (182, 1, 1795168517000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (183, 1, 1795168517000000, 'pr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (184, 1, 1795168518000000, 'hr', 82, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (185, 1, 1795168518000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (186, 1, 1795168518000000, 'pr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (187, 1, 1795168519000000, 'hr', 81, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (188, 1, 1795168519000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (189, 1, 1795168519000000, 'pr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (190, 1, 1795168520000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (191, 1, 1795168520000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (192, 1, 1795168520000000, 'pr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (193, 1, 1795168521000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (194, 1, 1795168521000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (195, 1, 1795168521000000, 'pr', 80, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (196, 1, 1795168522000000, 'hr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (197, 1, 1795168522000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (198, 1, 1795168522000000, 'pr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (199, 1, 1795168523000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (200, 1, 1795168523000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (201, 1, 1795168523000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (202, 1, 1795168524000000, 'hr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (203, 1, 1795168524000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (204, 1, 1795168524000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (205, 1, 1795168525000000, 'hr', 76, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (206, 1, 1795168525000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (207, 1, 1795168525000000, 'pr', 77, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (208, 1, 1795168526000000, 'hr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (209, 1, 1795168526000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (210, 1, 1795168526000000, 'pr', 78, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (211, 1, 1795168527000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (212, 1, 1795168527000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (213, 1, 1795168527000000, 'pr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (214, 1, 1795168528000000, 'hr', 79, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (215, 1, 1795168528000000, 'spo2', 97, 'replay', NULL, NULL, '');
INSERT INTO public.readings VALUES (216, 1, 1795168528000000, 'pr', 78, 'replay', NULL, NULL, '');


--
-- Data for Name: sessions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.sessions VALUES (1, 'small.csv', 'import', 'bed-1', '/tmp/pg16/small.csv', false, 1796306708282640, NULL, NULL, NULL, NULL, NULL, 0, 'other', '', NULL, NULL, NULL, NULL, '47937f72ff7fa465f6c455ed19f33d02096fa39b15ebff295c950e42e241d5c8', 0, NULL);


--
-- Data for Name: settings; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.users VALUES (1, 'ada', 'admin', '$argon2id$v=19$m=65536,t=3,p=4$nnKuKl/mpnckLf0Ax+LIyQ$G9h2nL6Evcv/Khr7zto8MwXLPMFHlpFXP5Yw2+g7yHw', false, 1796306711908386, 'maker (command line)');


--
-- Name: alarms_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.alarms_id_seq', 1, false);


--
-- Name: audit_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_id_seq', 3, false);


--
-- Name: events_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.events_id_seq', 3, false);


--
-- Name: limits_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.limits_id_seq', 1, false);


--
-- Name: logins_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.logins_id_seq', 1, false);


--
-- Name: readings_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.readings_id_seq', 217, false);


--
-- Name: sessions_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.sessions_id_seq', 2, false);


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.users_id_seq', 2, false);


--
-- Name: alarms alarms_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarms
    ADD CONSTRAINT alarms_pkey PRIMARY KEY (id);


--
-- Name: audit audit_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (id);


--
-- Name: beds beds_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.beds
    ADD CONSTRAINT beds_pkey PRIMARY KEY (id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);


--
-- Name: limits limits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.limits
    ADD CONSTRAINT limits_pkey PRIMARY KEY (id);


--
-- Name: login_failures login_failures_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.login_failures
    ADD CONSTRAINT login_failures_pkey PRIMARY KEY (name);


--
-- Name: logins logins_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.logins
    ADD CONSTRAINT logins_pkey PRIMARY KEY (id);


--
-- Name: logins logins_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.logins
    ADD CONSTRAINT logins_token_hash_key UNIQUE (token_hash);


--
-- Name: readings readings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.readings
    ADD CONSTRAINT readings_pkey PRIMARY KEY (id);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (key);


--
-- Name: alarms uq_alarm; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarms
    ADD CONSTRAINT uq_alarm UNIQUE (session_id, vital, kind, direction, source, onset_us);


--
-- Name: events uq_event; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT uq_event UNIQUE (session_id, t_us, kind, text, source);


--
-- Name: limits uq_limits_version; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.limits
    ADD CONSTRAINT uq_limits_version UNIQUE (session_id, version);


--
-- Name: readings uq_reading; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.readings
    ADD CONSTRAINT uq_reading UNIQUE (session_id, source, vital, t_us);


--
-- Name: users users_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_name_key UNIQUE (name);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: ix_alarms_session_rev; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_alarms_session_rev ON public.alarms USING btree (session_id, rev);


--
-- Name: ix_audit_session; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_session ON public.audit USING btree (session_id, id);


--
-- Name: ix_audit_who; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_who ON public.audit USING btree (who, id);


--
-- Name: ix_events_session_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_session_id ON public.events USING btree (session_id, id);


--
-- Name: ix_readings_session_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_readings_session_id ON public.readings USING btree (session_id, id);


--
-- Name: ix_readings_session_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_readings_session_time ON public.readings USING btree (session_id, t_us);


--
-- Name: uq_dose_in_force; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX uq_dose_in_force ON public.events USING btree (session_id, kind) WHERE ((entered_by IS NOT NULL) AND (struck_us IS NULL) AND ((kind)::text = ANY ((ARRAY['dose_start'::character varying, 'dose_end'::character varying, 'device_1'::character varying, 'device_2'::character varying, 'device_3'::character varying])::text[])));


--
-- Name: uq_open_session_per_bed; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX uq_open_session_per_bed ON public.sessions USING btree (bed_id) WHERE (ended_us IS NULL);


--
-- Name: uq_session_recording; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX uq_session_recording ON public.sessions USING btree (recording);


--
-- Name: audit audit_no_change; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_no_change BEFORE DELETE OR UPDATE ON public.audit FOR EACH STATEMENT EXECUTE FUNCTION public.audit_append_only();


--
-- Name: audit audit_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON public.audit FOR EACH STATEMENT EXECUTE FUNCTION public.audit_append_only();


--
-- Name: alarms alarms_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alarms
    ADD CONSTRAINT alarms_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id);


--
-- Name: audit audit_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit
    ADD CONSTRAINT audit_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id);


--
-- Name: events events_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id);


--
-- Name: limits limits_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.limits
    ADD CONSTRAINT limits_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id);


--
-- Name: logins logins_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.logins
    ADD CONSTRAINT logins_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- Name: readings readings_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.readings
    ADD CONSTRAINT readings_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id);


--
-- Name: sessions sessions_bed_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_bed_id_fkey FOREIGN KEY (bed_id) REFERENCES public.beds(id);


--
-- PostgreSQL database dump complete
--


